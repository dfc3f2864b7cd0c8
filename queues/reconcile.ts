import { z } from 'zod';
import { defineQueue } from '../src/jobs/queue-definition.js';

/**
 * The reconciler: re-enqueues QUEUED messages whose send job is gone (Redis flushed or
 * restarted), marks stale SENDING messages UNKNOWN, and completes finished campaigns; at most
 * once an hour it also runs the housekeeping chores (stale uploads, idle login counters).
 */
export const reconcileQueue = defineQueue({
  name: 'reconcile',
  jobName: 'reconcile',
  schema: z.object({}).strict(),
  defaultJobOptions: {
    attempts: 1,
    removeOnComplete: { count: 100 },
    removeOnFail: { count: 100 },
  },
  concurrency: () => 1,
  maxJobMs: 60_000,
});

export const reconcileSchedulerId = 'reconciler';
