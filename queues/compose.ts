import { z } from 'zod';
import { defineQueue, keepCompleted } from '../src/jobs/queue-definition.js';

/**
 * LLM personalisation of one PLANNED message (jobId = `compose-<message key>`). No BullMQ
 * limiter: the shared Redis budget enforces LLM_RPM / LLM_TPM, and a message over budget falls
 * back at once (plain template or review, as its campaign chose) instead of waiting.
 */
export const composeQueue = defineQueue({
  name: 'compose',
  jobName: 'compose',
  schema: z.object({ messageId: z.number().int().positive() }).strict(),
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: keepCompleted,
    removeOnFail: false,
  },
  concurrency: (config) => config.COMPOSE_CONCURRENCY,
  maxJobMs: 60_000,
});
