import { z } from 'zod';
import type { Config } from '../config/config.js';
import { defineQueue, keepCompleted } from './queue-definition.js';
import type { SocialPlatform } from '../core/channels.js';

/** A publish job carries the post id only; the handler re-reads and re-checks everything. */
export const publishJobSchema = z.object({ postId: z.number().int().positive() }).strict();
export type PublishJob = z.infer<typeof publishJobSchema>;

const rateSettings: Record<SocialPlatform, keyof Config> = {
  linkedin: 'LINKEDIN_RATE_PER_SECOND',
  x: 'X_RATE_PER_SECOND',
  instagram: 'INSTAGRAM_RATE_PER_SECOND',
};

/**
 * The `publish-<platform>` queue: one delayed job per content-calendar post (jobId = post key),
 * due at the post's time. Its limiter shares the platform's `<PLATFORM>_RATE_PER_SECOND`, and
 * always exists so that a platform's Retry-After can pause the worker.
 */
export function definePublishQueue(platform: SocialPlatform) {
  return defineQueue({
    name: `publish-${platform}`,
    jobName: 'publish',
    schema: publishJobSchema,
    defaultJobOptions: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: keepCompleted,
      removeOnFail: false,
    },
    concurrency: () => 2,
    limiter: (config) => {
      const perSecond = config[rateSettings[platform]];
      return { max: typeof perSecond === 'number' ? perSecond : 1_000_000, duration: 1000 };
    },
    maxJobMs: 60_000,
  });
}
