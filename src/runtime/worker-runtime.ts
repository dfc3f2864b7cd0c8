import { once } from 'node:events';
import { MetricsTime, type Job } from 'bullmq';
import type { z } from 'zod';
import { allQueues } from '../../queues/index.js';
import { reconcileQueue, reconcileSchedulerId } from '../../queues/reconcile.js';
import { metricsRollupQueue, metricsRollupSchedulerId } from '../../queues/metrics-rollup.js';
import { postMetricsQueue, postMetricsSchedulerId } from '../../queues/post-metrics.js';
import { allProcessors, type ProcessorContext } from '../../processors/index.js';
import { checkCatalogue } from '../jobs/catalogue.js';
import { bindProcessor, type ProcessorDefinition } from '../jobs/processor.js';
import { readEvictionPolicy, topologyMismatch } from '../redis/connection.js';
import { redisTopology } from '../redis/topology.js';
import type { AppWorker } from '../jobs/queue-store.js';
import type { AppContext } from './context.js';
import { startWorkerMetricsServer, type WorkerMetricsServer } from '../metrics/worker-metrics-server.js';

export interface RunningWorkers {
  workers: AppWorker[];
  /** This process's own metrics endpoint, when `WORKER_METRICS_PORT` is set. */
  metricsServer: WorkerMetricsServer | undefined;
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

/**
 * Refuses to run workers against a Redis Cluster node configured as one server (REDIS_URL or a
 * Sentinel's primary): BullMQ would fail every command for another node's slots with MOVED.
 * Queues on Postgres have no topology to check.
 */
export async function refuseMismatchedTopology(ctx: AppContext): Promise<void> {
  if (ctx.queueStore.kind !== 'redis') return;
  const { redis } = ctx.queueStore;
  if (redis.status !== 'ready') await once(redis, 'ready');
  const mismatch = await topologyMismatch(redis, redisTopology(ctx.config));
  if (mismatch !== undefined) throw new Error(mismatch);
}

/** Upserts the tick scheduler of every ACTIVE campaign (removing others), the reconciler's, the metrics rollup's and the daily post metrics read. */
export async function syncJobSchedulers(ctx: AppContext): Promise<void> {
  await ctx.campaigns.syncSchedulers();
  await ctx.queues
    .get(reconcileQueue)
    .upsertJobScheduler(reconcileSchedulerId, { every: ctx.config.RECONCILE_EVERY }, { name: reconcileQueue.jobName, data: {} });
  await ctx.queues
    .get(metricsRollupQueue)
    .upsertJobScheduler(metricsRollupSchedulerId, { every: ctx.config.METRICS_EVERY }, { name: metricsRollupQueue.jobName, data: {} });
  await ctx.queues
    .get(postMetricsQueue)
    .upsertJobScheduler(postMetricsSchedulerId, { every: ctx.config.POST_METRICS_EVERY }, { name: postMetricsQueue.jobName, data: {} });
}

/** This process's metrics endpoint on `WORKER_METRICS_PORT` (+ `NODE_APP_INSTANCE` under PM2), when it is set. */
function startMetricsServer(ctx: AppContext): Promise<WorkerMetricsServer | undefined> {
  const { WORKER_METRICS_PORT: port, NODE_APP_INSTANCE: instance } = ctx.config;
  if (port === undefined) return Promise.resolve(undefined);
  return startWorkerMetricsServer({ host: ctx.config.HOST, port: port === 0 ? 0 : port + (instance ?? 0), token: ctx.config.METRICS_TOKEN, registry: ctx.metrics.registry, log: ctx.log });
}

/**
 * Starts one BullMQ worker per processor after checking the job catalogue (with BullMQ's metrics
 * on), syncs the campaign tick schedulers with the database, schedules the reconciler, and
 * serves this process's metrics when `WORKER_METRICS_PORT` is set.
 */
export async function startWorkers(
  ctx: AppContext,
  processors: readonly ProcessorDefinition<z.ZodType, ProcessorContext>[] = allProcessors,
  options: { schedule?: boolean } = {},
): Promise<RunningWorkers> {
  checkCatalogue(allQueues, processors);
  await refuseMismatchedTopology(ctx);
  await warnOnEvictionPolicy(ctx);
  const outlasting = processors.filter((processor) => processor.queue.maxJobMs >= ctx.config.SHUTDOWN_TIMEOUT).map((processor) => processor.queue.name);
  if (outlasting.length > 0) {
    ctx.log.info(
      { shutdownTimeoutMs: ctx.config.SHUTDOWN_TIMEOUT, queues: outlasting },
      'jobs of these queues may outlast SHUTDOWN_TIMEOUT: a shutdown during one cuts it short',
    );
  }
  // First: a port already taken stops the start-up before any worker takes a job.
  const metricsServer = await startMetricsServer(ctx);
  const factory = ctx.queueStore.openWorkers();
  const workers = processors.map((processor) => {
    const limiter = processor.queue.limiter?.(ctx.config);
    const worker = factory.create(processor.queue.name, bindProcessor(processor, ctx), {
      concurrency: processor.queue.concurrency(ctx.config),
      // A job whose worker died is retried once its lock lapses and the stall check sees it.
      lockDuration: ctx.config.JOB_LOCK_DURATION,
      stalledInterval: ctx.config.JOB_LOCK_DURATION,
      // BullMQ's completed and failed counters (`bullmq_job_completed_total`, …) count only with this.
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
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
    metricsServer,
    async close() {
      clearInterval(schedulerSync);
      await metricsServer?.close();
      const closing = Promise.all(workers.map((worker) => worker.close()));
      // The workers take no new jobs now; LIVE sends queued behind the call slots hand theirs back.
      ctx.sends.releaseWaitingSends();
      await closing;
      await factory.close();
    },
  };
}
