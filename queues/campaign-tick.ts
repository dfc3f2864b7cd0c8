import { z } from 'zod';
import { defineQueue, keepCompleted } from '../src/jobs/queue-definition.js';

/** One tick of one campaign: select due enrollments, create their messages, fan out sends. */
export const campaignTickQueue = defineQueue({
  name: 'campaign-tick',
  jobName: 'tick',
  schema: z.object({
    campaignId: z.number().int().positive(),
    /** Set by `drumbeat tick`; scheduled ticks take their slot from the scheduler's timestamp. */
    slot: z.iso.datetime().optional(),
  }),
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: keepCompleted,
    removeOnFail: false,
  },
  concurrency: () => 2,
  maxJobMs: 60_000,
});

/** The job scheduler id of a campaign's ticks (no `:` allowed in BullMQ ids). */
export function tickSchedulerId(campaignId: number): string {
  return `campaign-${campaignId}`;
}
