import { z } from 'zod';
import type { Config } from '../config/config.js';
import { defineQueue, keepCompleted } from './queue-definition.js';
import type { Channel } from '../core/channels.js';

/** A send job carries the message id only; the handler re-reads and re-checks everything. */
export const sendJobSchema = z.object({ messageId: z.number().int().positive() }).strict();
export type SendJob = z.infer<typeof sendJobSchema>;

const rateSettings: Record<Channel, keyof Config> = {
  email: 'EMAIL_RATE_PER_SECOND',
  linkedin: 'LINKEDIN_RATE_PER_SECOND',
  x: 'X_RATE_PER_SECOND',
  instagram: 'INSTAGRAM_RATE_PER_SECOND',
};

const unboundedPerSecond = 1_000_000;

/**
 * The `send-<channel>` queue of one channel. Attempts and backoff come from config when jobs
 * are added; the limiter (jobs per second for this channel) from `<CHANNEL>_RATE_PER_SECOND`.
 */
export function defineSendQueue(channel: Channel) {
  return defineQueue({
    name: `send-${channel}`,
    jobName: 'send',
    schema: sendJobSchema,
    defaultJobOptions: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: keepCompleted,
      // Failed jobs stay: they are the dead-letter view that Bull Board retries from.
      removeOnFail: false,
    },
    concurrency: (config) => config.SEND_CONCURRENCY,
    limiter: (config) => {
      const perSecond = config[rateSettings[channel]];
      if (typeof perSecond === 'number') return { max: perSecond, duration: 1000 };
      // On Redis, BullMQ honours a provider's Retry-After (Queue.rateLimit) in every process only
      // on a worker that has a limiter, so an unset rate still gets one, too high to ever bind.
      // On Postgres a limiter takes a lock per queue at every claim (sends one at a time, half
      // the throughput): without one, the worker that met the 429 waits out Retry-After, and so
      // does any other process at its first 429.
      return config.QUEUE_BACKEND === 'redis' ? { max: unboundedPerSecond, duration: 1000 } : undefined;
    },
    maxJobMs: 60_000,
  });
}
