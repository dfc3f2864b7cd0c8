import { z } from 'zod';
import { defineQueue } from '../src/jobs/queue-definition.js';

/**
 * Reads the engagement of published posts from their platforms into `post_metrics` (one row per
 * post and campaign-local day): daily for every campaign, on `drumbeat metrics fetch`, and again
 * later for one platform's posts that a rate limit or an outage left unread (`missingOnly`).
 */
export const postMetricsQueue = defineQueue({
  name: 'post-metrics',
  jobName: 'fetch-post-metrics',
  schema: z
    .object({
      campaignId: z.number().int().positive().optional(),
      platforms: z.array(z.enum(['linkedin', 'x', 'instagram'])).min(1).optional(),
      /** Read only the posts with no row for today yet. */
      missingOnly: z.boolean().default(false),
      /** How many follow-ups came before this one (they stop after a few). */
      retry: z.number().int().min(0).max(100).default(0),
    })
    .strict(),
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 60_000 },
    removeOnComplete: { count: 100 },
    removeOnFail: { count: 100 },
  },
  concurrency: () => 1,
  // Per-post reads of many posts (LinkedIn, Instagram) take a while; a shutdown cuts it short and
  // the next run reads again (rows are upserted per post and day).
  maxJobMs: 300_000,
});

export const postMetricsSchedulerId = 'post-metrics-daily';

/** The job id of a follow-up read (no `:`; one per platform, campaign, day and retry). */
export function postMetricsRetryJobId(platform: string, campaignId: number | undefined, day: string, retry: number): string {
  return `post-metrics-${platform}-${campaignId ?? 'all'}-${day}-r${retry}`;
}
