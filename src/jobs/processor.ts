import { UnrecoverableError, type Job } from 'bullmq';
import { z } from 'zod';
import type { AppContext } from '../runtime/context.js';
import type { QueueDefinition } from './queue-definition.js';

/** What a processor does with one job's parsed data. */
export type ProcessJob<Schema extends z.ZodType> = (
  data: z.infer<Schema>,
  job: Job,
  ctx: AppContext,
  token: string | undefined,
) => Promise<unknown>;

export interface ProcessorDefinition<Schema extends z.ZodType = z.ZodType> {
  readonly queue: QueueDefinition<Schema>;
  readonly process: ProcessJob<Schema>;
}

/** Declares the one processor of a queue. */
export function defineProcessor<Schema extends z.ZodType>(
  queue: QueueDefinition<Schema>,
  process: ProcessJob<Schema>,
): ProcessorDefinition<Schema> {
  return { queue, process };
}

/**
 * The BullMQ processor function for a definition: job data that fails its schema can never
 * succeed, so it fails at once as an `UnrecoverableError` instead of burning retries.
 */
export function bindProcessor(definition: ProcessorDefinition, ctx: AppContext) {
  return async (job: Job, token?: string): Promise<unknown> => {
    const parsed = definition.queue.schema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid job data for ${definition.queue.name}: ${z.prettifyError(parsed.error)}`);
    }
    return definition.process(parsed.data, job, ctx, token);
  };
}
