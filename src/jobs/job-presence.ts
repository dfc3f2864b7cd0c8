import type { RedisClient } from '../redis/connection.js';
import { jobKey } from '../redis/keys.js';
import type { AppQueue, QueueStore } from './queue-store.js';

/** One job to look for: its queue and id. */
export interface JobLookup {
  queue: AppQueue;
  jobId: string;
}

/** Whether jobs exist, many at a time (the reconciler asks after every batch of waiting messages). */
export interface JobPresence {
  /** For each lookup, in order, whether its job exists in its queue. */
  exists(lookups: readonly JobLookup[]): Promise<boolean[]>;
}

/** On Redis: one pipelined EXISTS per job hash (the key BullMQ reads it from), one round trip for the batch. */
function redisJobPresence(redis: RedisClient): JobPresence {
  return {
    async exists(lookups) {
      const pipeline = redis.pipeline();
      for (const { queue, jobId } of lookups) pipeline.exists(jobKey(queue, jobId));
      const replies = (await pipeline.exec()) ?? [];
      return lookups.map((_, index) => {
        const [error, exists] = replies[index] ?? [null, 0];
        if (error !== null) throw error;
        return exists !== 0;
      });
    },
  };
}

/** Through the Queue API (`getJob`), for a store whose layout is not keys: BullMQ's Postgres backend. */
function queueApiJobPresence(): JobPresence {
  return {
    async exists(lookups) {
      // Concurrent lookups share the store's pool; it queues what it cannot run at once.
      return Promise.all(lookups.map(async ({ queue, jobId }) => (await queue.getJob(jobId)) !== undefined));
    },
  };
}

/** The way to look for jobs in this store. */
export function jobPresence(store: QueueStore): JobPresence {
  return store.kind === 'redis' ? redisJobPresence(store.redis) : queueApiJobPresence();
}
