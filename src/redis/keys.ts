import type { Queue } from 'bullmq';

/**
 * Every Redis key drumbeat builds, in one place. Each starts with the queue prefix
 * (`QUEUE_PREFIX`), so one prefix holds a whole deployment, a `{hash-tag}` prefix keeps every key
 * in one Redis Cluster slot (as BullMQ's own keys are), and a Redis flush of the prefix loses
 * nothing Postgres does not hold. On a cluster the config refuses a prefix without a tag, and
 * the variable parts (domain, IP) come after the prefix, so the prefix's tag is the first `{…}`
 * of every key and decides its slot; each script and `MULTI` here touches a single key. BullMQ lays out its keys as `<prefix>:<queue>:…`; ours use
 * names no queue has. Windowed counters carry their window (a minute since the epoch) in the
 * key and expire on their own.
 */
export const redisKeys = {
  /** One hash of the circuit-breaker states the workers report: field = breaker name. */
  breakerStates: (prefix: string) => `${prefix}:breakers`,
  /** The email throttle of one recipient domain (lower-cased) in one clock minute. */
  domainThrottle: (prefix: string, domain: string, minute: number) => `${prefix}:throttle:domain:${domain.toLowerCase()}:${minute}`,
  /** The LLM's request and token budget of one clock minute (a hash: requests, tokens). */
  llmBudget: (prefix: string, minute: number) => `${prefix}:llm:budget:${minute}`,
  /** Form submissions from one client IP in one clock minute. */
  formRate: (prefix: string, ip: string, minute: number) => `${prefix}:form-rate:${ip}:${minute}`,
  /** A SCAN pattern matching every key under the prefix (a benchmark's or a test run's cleanup). */
  everyKey: (prefix: string) => `${prefix}:*`,
} as const;

/**
 * The key of a job's hash in its queue, laid out by BullMQ itself (`Queue#toKey`, the key
 * `Job.fromId` reads), for existence checks that must be pipelined: one round trip for a whole
 * batch instead of a `getJob` per job.
 */
export function jobKey(queue: Pick<Queue, 'toKey'>, jobId: string): string {
  return queue.toKey(jobId);
}

/** The clock minute (minutes since the epoch) of an instant: the window of the per-minute counters. */
export function clockMinute(instant: Date): number {
  return Math.floor(instant.getTime() / 60_000);
}
