import type { JobsOptions, RateLimiterOptions } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../config/config.js';

/**
 * Completed jobs kept for the board: the last 1,000 of each queue. Bounded by count alone: an
 * age limit makes BullMQ look for expired jobs at every completion (10–30 µs of Redis CPU per
 * send job in the benchmark). Failed jobs are kept as the dead-letter view.
 */
export const keepCompleted = { count: 1000 } as const;

/**
 * The same on BullMQ's Postgres backend, where it is the other way round: a count limit deletes
 * with a scan of every kept job of the queue at each completion (a thousand rows per send job,
 * most of the database's CPU in the benchmark), while an age limit is a range of an index.
 */
export const keepCompletedOnPostgres = { age: 3600 } as const;

/**
 * Everything that describes one queue: its name, the zod schema of its job data, its default
 * job options, and how its worker runs (concurrency, limiter), read from config where tunable.
 */
export interface QueueDefinition<Schema extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly jobName: string;
  readonly schema: Schema;
  readonly defaultJobOptions: JobsOptions;
  readonly concurrency: (config: Config) => number;
  readonly limiter?: (config: Config) => RateLimiterOptions | undefined;
  /** The longest a single job may run; PM2's kill_timeout and shutdown are sized from it. */
  readonly maxJobMs: number;
}

/** Declares a queue. Names may not contain `:` (BullMQ keys). */
export function defineQueue<Schema extends z.ZodType>(definition: QueueDefinition<Schema>): QueueDefinition<Schema> {
  if (definition.name.includes(':')) throw new Error(`queue name "${definition.name}" may not contain ':'`);
  return definition;
}
