import { DelayedError, Worker, type Job } from 'bullmq';
import type { AppContext } from '../runtime/context.js';
import type { QueueDefinition } from '../jobs/queue-definition.js';
import type { SendDecision } from './send-service.js';
import type { SendJob } from './send-queue.js';

/**
 * Runs one send job and turns the service's decision into BullMQ's control flow: a hold moves
 * the job to delayed (no attempt spent), a provider rate limit pauses the queue for the
 * Retry-After time and puts the job back (no attempt spent).
 */
export async function runSendJob(
  queue: QueueDefinition,
  data: SendJob,
  job: Job,
  ctx: AppContext,
  token: string | undefined,
): Promise<SendDecision> {
  const decision = await ctx.sends.send(data.messageId, { attemptsMade: job.attemptsMade, attempts: job.opts.attempts ?? 1 });
  if (decision.kind === 'hold') {
    await job.moveToDelayed(Math.max(decision.until.getTime(), Date.now() + 10), token);
    throw new DelayedError(decision.reason);
  }
  if (decision.kind === 'rate-limited') {
    await ctx.queues.get(queue).rateLimit(decision.retryAfterMs);
    throw Worker.RateLimitError();
  }
  return decision;
}
