import type { JobsOptions } from 'bullmq';
import type { z } from 'zod';
import type { QueueDefinition } from './queue-definition.js';
import type { AppQueue, QueueStore } from './queue-store.js';
import type { QueueDirectory } from './queue-directory.js';

/**
 * One BullMQ `Queue` per definition, created on first use in the queue store (Redis or
 * Postgres). Producers go through here so that every job is parsed before it is added.
 */
export class QueueRegistry {
  private readonly queues = new Map<string, AppQueue>();

  constructor(
    private readonly store: QueueStore,
    /** The queues of the catalogue by role, for code that adds jobs. */
    readonly directory: QueueDirectory,
  ) {}

  /** The queue for a definition. */
  get(definition: QueueDefinition): AppQueue {
    let queue = this.queues.get(definition.name);
    if (queue === undefined) {
      queue = this.store.createQueue(definition.name, definition.defaultJobOptions);
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

  /** Whether the store takes jobs now; BullMQ would otherwise wait for it, however long it is away. */
  available(): Promise<boolean> {
    return this.store.available();
  }

  /** Every queue created so far. */
  all(): AppQueue[] {
    return [...this.queues.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((queue) => queue.close()));
    this.queues.clear();
  }
}
