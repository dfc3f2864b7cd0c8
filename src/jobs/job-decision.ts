import { DelayedError, Worker, type Job } from 'bullmq';
import type { QueueRegistry } from './queue-registry.js';
import type { QueueDefinition } from './queue-definition.js';

/** Decisions a handler returns instead of doing BullMQ's control flow itself. */
export type JobControl = { kind: 'hold'; until: Date; reason: string } | { kind: 'rate-limited'; retryAfterMs: number };

/** Where a job stands in its attempts, as a handler that settles failures needs it. */
export interface AttemptInfo {
  /** Attempts already made before this one. */
  attemptsMade: number;
  /** Attempts allowed in all. */
  attempts: number;
}

/** The attempts of a running job (a job added without `attempts` has one). */
export function attemptOf(job: Job): AttemptInfo {
  return { attemptsMade: job.attemptsMade, attempts: job.opts.attempts ?? 1 };
}

/**
 * Turns a handler's decision into BullMQ's control flow: a hold moves the job to delayed until
 * the given time, a provider rate limit pauses the queue for Retry-After and puts the job back.
 * Neither spends an attempt. Any other decision is the job's result.
 */
export async function applyJobDecision<Decision extends { kind: string }>(
  decision: Decision | JobControl,
  job: Job,
  token: string | undefined,
  queue: QueueDefinition,
  queues: QueueRegistry,
): Promise<Exclude<Decision, JobControl>> {
  if (decision.kind === 'hold') {
    const hold = decision as Extract<JobControl, { kind: 'hold' }>;
    await job.moveToDelayed(Math.max(hold.until.getTime(), Date.now() + 10), token);
    throw new DelayedError(hold.reason);
  }
  if (decision.kind === 'rate-limited') {
    await queues.get(queue).rateLimit((decision as Extract<JobControl, { kind: 'rate-limited' }>).retryAfterMs);
    throw Worker.RateLimitError();
  }
  return decision as Exclude<Decision, JobControl>;
}
