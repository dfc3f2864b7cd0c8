import { Queue, type JobsOptions } from 'bullmq';
import type { z } from 'zod';
import type { RedisClient } from '../redis/connection.js';
import type { QueueDefinition } from './queue-definition.js';
import type { QueueDirectory } from './queue-directory.js';

/**
 * One BullMQ `Queue` per definition, created on first use over a shared connection and the
 * configured prefix. Producers go through here so that every job is parsed before it is added.
 */
export class QueueRegistry {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: RedisClient,
    private readonly prefix: string,
    /** The queues of the catalogue by role, for code that adds jobs. */
    readonly directory: QueueDirectory,
  ) {}

  /** The queue for a definition. */
  get(definition: QueueDefinition): Queue {
    let queue = this.queues.get(definition.name);
    if (queue === undefined) {
      queue = new Queue(definition.name, {
        connection: this.connection,
        prefix: this.prefix,
        defaultJobOptions: definition.defaultJobOptions,
      });
      queue.on('error', () => {
        // Connection errors are logged once by the connection's own listener.
      });
      this.queues.set(definition.name, queue);
    }
    return queue;
  }

  /** Parses then adds many jobs in chunks with `addBulk`; returns how many were added. */
  async addMany<Schema extends z.ZodType>(
    definition: QueueDefinition<Schema>,
    jobs: ReadonlyArray<{ data: z.input<Schema>; opts: JobsOptions & { jobId: string } }>,
    chunkSize = 1000,
  ): Promise<number> {
    const queue = this.get(definition);
    for (let start = 0; start < jobs.length; start += chunkSize) {
      const chunk = jobs.slice(start, start + chunkSize).map((job) => ({
        name: definition.jobName,
        data: definition.schema.parse(job.data),
        opts: job.opts,
      }));
      await queue.addBulk(chunk);
    }
    return jobs.length;
  }

  /** Whether the shared connection is up now; BullMQ would otherwise wait for it, however long Redis is away. */
  connectionReady(): boolean {
    return this.connection.status === 'ready';
  }

  /** Every queue created so far. */
  all(): Queue[] {
    return [...this.queues.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((queue) => queue.close()));
    this.queues.clear();
  }
}
