import type { Job } from 'bullmq';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { QueueDefinition } from '../jobs/queue-definition.js';
import { applyJobDecision, attemptOf } from '../jobs/job-decision.js';
import type { DeliveryResult } from '../delivery/delivery-decision.js';
import type { SendJob } from '../jobs/send-queue.js';
import type { SendService } from './send-service.js';

/** What a send job uses of the worker's context. */
export interface SendJobContext {
  sends: SendService;
  queues: QueueRegistry;
}

/**
 * Runs one send job: a hold (kill switch, pause, window, cap, open breaker) moves it to delayed
 * and a provider rate limit pauses the queue for Retry-After; neither spends an attempt.
 */
export async function runSendJob(queue: QueueDefinition, data: SendJob, job: Job, ctx: SendJobContext, token: string | undefined): Promise<DeliveryResult> {
  return applyJobDecision(await ctx.sends.send(data.messageId, attemptOf(job)), job, token, queue, ctx.queues);
}
