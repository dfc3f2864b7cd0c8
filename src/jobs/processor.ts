import { UnrecoverableError, type Job } from 'bullmq';
import { z } from 'zod';
import type { QueueDefinition } from './queue-definition.js';

/**
 * What a processor does with one job's parsed data. `Context` is what it uses of the process's
 * context (services, pools), named by the processor so that it depends on nothing more.
 */
export type ProcessJob<Schema extends z.ZodType, Context> = (
  data: z.infer<Schema>,
  job: Job,
  ctx: Context,
  token: string | undefined,
) => Promise<unknown>;

export interface ProcessorDefinition<Schema extends z.ZodType = z.ZodType, Context = never> {
  readonly queue: QueueDefinition<Schema>;
  readonly process: ProcessJob<Schema, Context>;
}

/** The context a processor definition needs. */
export type ContextOf<Definition> = Definition extends ProcessorDefinition<z.ZodType, infer Context> ? Context : never;

/** Declares the one processor of a queue. */
export function defineProcessor<Context, Schema extends z.ZodType>(
  queue: QueueDefinition<Schema>,
  process: ProcessJob<Schema, Context>,
): ProcessorDefinition<Schema, Context> {
  return { queue, process };
}

/**
 * The BullMQ processor function for a definition: job data that fails its schema can never
 * succeed, so it fails at once as an `UnrecoverableError` instead of burning retries.
 */
export function bindProcessor<Context>(definition: ProcessorDefinition<z.ZodType, Context>, ctx: Context) {
  return async (job: Job, token?: string): Promise<unknown> => {
    const parsed = definition.queue.schema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid job data for ${definition.queue.name}: ${z.prettifyError(parsed.error)}`);
    }
    return definition.process(parsed.data, job, ctx, token);
  };
}
