import { z } from 'zod';
import { defineQueue, keepCompleted } from '../src/jobs/queue-definition.js';

/**
 * Applies one stored inbox event (a provider webhook or an inbound reply) to leads, enrollments
 * and suppressions. The job carries the inbox row id only; the row's `applied_at` is the real
 * once-only guard, so a job delivered twice changes nothing the second time.
 */
export const eventsQueue = defineQueue({
  name: 'events',
  jobName: 'apply-event',
  schema: z.object({ inboxEventId: z.number().int().positive() }).strict(),
  defaultJobOptions: {
    attempts: 8,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: keepCompleted,
    removeOnFail: { count: 10_000 },
  },
  concurrency: (config) => config.EVENTS_CONCURRENCY,
  maxJobMs: 30_000,
});

/** The BullMQ job id of an inbox event's apply job (not all digits, no `:`). */
export function eventJobId(inboxEventId: number): string {
  return `inbox-${inboxEventId}`;
}
