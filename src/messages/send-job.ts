import type { Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import type { QueueDefinition } from '../jobs/queue-definition.js';
import { applyJobDecision, attemptOf } from '../jobs/job-decision.js';
import type { DeliveryResult } from '../delivery/delivery-decision.js';
import type { SendJob } from '../jobs/send-queue.js';

/**
 * Runs one send job: a hold (kill switch, pause, window, cap, open breaker) moves it to delayed
 * and a provider rate limit pauses the queue for Retry-After; neither spends an attempt.
 */
export async function runSendJob(queue: QueueDefinition, data: SendJob, job: Job, ctx: AppContext, token: string | undefined): Promise<DeliveryResult> {
  return applyJobDecision(await ctx.sends.send(data.messageId, attemptOf(job)), job, token, queue, ctx.queues);
}
