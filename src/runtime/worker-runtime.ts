import { once } from 'node:events';
import type { Job } from 'bullmq';
import { allQueues } from '../../queues/index.js';
import { reconcileQueue, reconcileSchedulerId } from '../../queues/reconcile.js';
import { allProcessors } from '../../processors/index.js';
import { checkCatalogue } from '../jobs/catalogue.js';
import { bindProcessor, type ProcessorDefinition } from '../jobs/processor.js';
import { readEvictionPolicy } from '../redis/connection.js';
import type { AppWorker } from '../jobs/queue-store.js';
import type { AppContext } from './context.js';

export interface RunningWorkers {
  workers: AppWorker[];
  /** Stops taking jobs, waits for active ones to finish, then closes the workers' connections. */
  close(): Promise<void>;
}

/** Warns loudly when Redis may evict keys: BullMQ jobs would silently disappear. Postgres evicts nothing. */
export async function warnOnEvictionPolicy(ctx: AppContext): Promise<void> {
  if (ctx.queueStore.kind !== 'redis') return;
  const { redis } = ctx.queueStore;
  // An HTTP-role connection refuses commands until it is ready instead of queueing them.
  if (redis.status !== 'ready') await once(redis, 'ready');
  const policy = await readEvictionPolicy(redis);
  if (policy !== 'noeviction') {
    ctx.log.warn(
      { policy },
      `REDIS MAXMEMORY-POLICY IS "${policy}", NOT "noeviction": Redis may evict queue keys under memory pressure. Set maxmemory-policy noeviction.`,
    );
  }
}

/** Upserts the tick scheduler of every ACTIVE campaign (removing others) and the reconciler's. */
export async function syncJobSchedulers(ctx: AppContext): Promise<void> {
  await ctx.campaigns.syncSchedulers();
  await ctx.queues
    .get(reconcileQueue)
    .upsertJobScheduler(reconcileSchedulerId, { every: ctx.config.RECONCILE_EVERY }, { name: reconcileQueue.jobName, data: {} });
}

/**
 * Starts one BullMQ worker per processor after checking the job catalogue, syncs the campaign
 * tick schedulers with the database and schedules the reconciler.
 */
export async function startWorkers(
  ctx: AppContext,
  processors: readonly ProcessorDefinition[] = allProcessors,
  options: { schedule?: boolean } = {},
): Promise<RunningWorkers> {
  checkCatalogue(allQueues, processors);
  await warnOnEvictionPolicy(ctx);
  const outlasting = processors.filter((processor) => processor.queue.maxJobMs >= ctx.config.SHUTDOWN_TIMEOUT).map((processor) => processor.queue.name);
  if (outlasting.length > 0) {
    ctx.log.info(
      { shutdownTimeoutMs: ctx.config.SHUTDOWN_TIMEOUT, queues: outlasting },
      'jobs of these queues may outlast SHUTDOWN_TIMEOUT: a shutdown during one cuts it short',
    );
  }
  const factory = ctx.queueStore.openWorkers();
  const workers = processors.map((processor) => {
    const limiter = processor.queue.limiter?.(ctx.config);
    const worker = factory.create(processor.queue.name, bindProcessor(processor, ctx), {
      concurrency: processor.queue.concurrency(ctx.config),
      // A job whose worker died is retried once its lock lapses and the stall check sees it.
      lockDuration: ctx.config.JOB_LOCK_DURATION,
      stalledInterval: ctx.config.JOB_LOCK_DURATION,
      ...(limiter === undefined ? {} : { limiter }),
    });
    worker.on('error', (error: Error) => ctx.log.warn({ err: error, queue: processor.queue.name }, 'worker error'));
    worker.on('failed', (job: Job | undefined, error: Error) => {
      // Log once, on the final attempt, not on every retry.
      const attempts = job?.opts.attempts ?? 1;
      if (job !== undefined && job.attemptsMade >= attempts) {
        ctx.log.error({ err: error, queue: processor.queue.name, jobId: job.id }, 'job failed for good; it is in the failed set');
      }
    });
    return worker;
  });
  let schedulerSync: NodeJS.Timeout | undefined;
  if (options.schedule !== false) {
    await syncJobSchedulers(ctx);
    // Job schedulers live in Redis: after a flush or a restart without persistence they are
    // gone, reconciler included. This timer, outside Redis, puts them back.
    schedulerSync = setInterval(() => {
      syncJobSchedulers(ctx).catch((error: unknown) => ctx.log.warn({ err: error }, 'job scheduler sync failed; will retry'));
    }, ctx.config.RECONCILE_EVERY);
  }
  await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  ctx.log.info({ queues: processors.map((processor) => processor.queue.name), store: ctx.queueStore.describe() }, 'workers started');
  return {
    workers,
    async close() {
      clearInterval(schedulerSync);
      const closing = Promise.all(workers.map((worker) => worker.close()));
      // The workers take no new jobs now; LIVE sends queued behind the call slots hand theirs back.
      ctx.sends.releaseWaitingSends();
      await closing;
      await factory.close();
    },
  };
}
