import type { JobControl } from '../jobs/job-decision.js';

/** A delivery job's wait: until a time, with why (a gate, an open breaker, a pause). */
export type Hold = Extract<JobControl, { kind: 'hold' }>;

/**
 * What a delivery job (a message's send, a post's publish) does next. The processors hand it to
 * `applyJobDecision`: a hold moves the job to delayed and a rate limit pauses its queue, neither
 * spending an attempt; any other kind is the job's result. Permanent failures are not decisions:
 * they throw `UnrecoverableError`, and transient ones rethrow for BullMQ's backoff.
 * - `delivered`: the provider (or the PROOF ledger) has it, in `status` (SENT, PUBLISHED, …).
 * - `skipped`: a gate ended it without a delivery, with the reason recorded.
 * - `not-deliverable`: it is in no status a delivery may claim from (already done, held for
 *   review, or changed by a concurrent run); nothing was changed.
 * - `unknown`: the provider may have acted; an operator resolves it.
 */
export type DeliveryDecision =
  | { kind: 'delivered'; status: string; externalId: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'not-deliverable'; status: string }
  | { kind: 'unknown'; reason: string }
  | JobControl;

/** A delivery job's result: a decision that is no BullMQ move. */
export type DeliveryResult = Exclude<DeliveryDecision, JobControl>;

/** How long a held delivery waits before its gates are checked again. */
export const holdFor = {
  killSwitch: 10_000,
  paused: 5 * 60_000,
  workerStopping: 1_000,
} as const;

/** A hold of `holdFor[wait]` from `now`. */
export function holdFrom(now: Date, wait: keyof typeof holdFor, reason: string): Hold {
  return { kind: 'hold', until: new Date(now.getTime() + holdFor[wait]), reason };
}
