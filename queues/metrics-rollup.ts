import { z } from 'zod';
import { defineQueue } from '../src/jobs/queue-definition.js';

/**
 * The metrics rollup (campaign, channel and variant metrics and attribution, from messages and
 * applied events): scheduled every `METRICS_EVERY` (incremental), and once for a campaign that
 * completes (that campaign, whole). Runs serialise on an advisory lock in Postgres, so one
 * worker at a time is enough.
 */
export const metricsRollupQueue = defineQueue({
  name: 'metrics-rollup',
  jobName: 'rollup',
  schema: z.object({ campaignId: z.number().int().positive().optional() }).strict(),
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 5000 },
    removeOnComplete: { count: 100 },
    removeOnFail: { count: 100 },
  },
  concurrency: () => 1,
  maxJobMs: 60_000,
});

export const metricsRollupSchedulerId = 'metrics-rollup';

/** The job id of the rollup of a campaign that completed at `completedAt` (once per completion). */
export function completedCampaignRollupJobId(campaignId: number, completedAt: Date): string {
  return `campaign-${campaignId}-completed-${completedAt.getTime()}`;
}
