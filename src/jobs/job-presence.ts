import type { RedisClient } from '../redis/connection.js';
import { jobKey } from '../redis/keys.js';
import type { AppQueue, QueueStore } from './queue-store.js';

/** One job to look for: its queue and id. */
export interface JobLookup {
  queue: AppQueue;
  jobId: string;
}

/**
 * Where a job stands: `live` (it will still run: waiting, delayed, active…), `finished`
 * (completed or failed: it will not run again by itself) or `missing`.
 */
export type JobStanding = 'live' | 'finished' | 'missing';

/** Where jobs stand, many at a time (the reconciler asks after every batch of waiting messages). */
export interface JobPresence {
  /** For each lookup, in order, where its job stands in its queue. */
  find(lookups: readonly JobLookup[]): Promise<JobStanding[]>;
}

/** On Redis: the job hash's existence and its `finishedOn`, pipelined, one round trip for the batch. */
function redisJobPresence(redis: RedisClient): JobPresence {
  return {
    async find(lookups) {
      const pipeline = redis.pipeline();
      for (const { queue, jobId } of lookups) pipeline.exists(jobKey(queue, jobId)).hget(jobKey(queue, jobId), 'finishedOn');
      const replies = (await pipeline.exec()) ?? [];
      return lookups.map((_, index) => {
        const [existsError, exists] = replies[2 * index] ?? [null, 0];
        const [finishedError, finishedOn] = replies[2 * index + 1] ?? [null, null];
        if (existsError !== null) throw existsError;
        if (finishedError !== null) throw finishedError;
        if (exists === 0) return 'missing';
        return finishedOn === null ? 'live' : 'finished';
      });
    },
  };
}

/** Through the Queue API (`getJob`), for a store whose layout is not keys: BullMQ's Postgres backend. */
function queueApiJobPresence(): JobPresence {
  return {
    async find(lookups) {
      // Concurrent lookups share the store's pool; it queues what it cannot run at once.
      return Promise.all(
        lookups.map(async ({ queue, jobId }): Promise<JobStanding> => {
          const job = await queue.getJob(jobId);
          if (job === undefined) return 'missing';
          return job.finishedOn === undefined ? 'live' : 'finished';
        }),
      );
    },
  };
}

/** The way to look for jobs in this store. */
export function jobPresence(store: QueueStore): JobPresence {
  return store.kind === 'redis' ? redisJobPresence(store.redis) : queueApiJobPresence();
}
