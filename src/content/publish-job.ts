import type { Job } from 'bullmq';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { QueueDefinition } from '../jobs/queue-definition.js';
import { applyJobDecision, attemptOf } from '../jobs/job-decision.js';
import type { DeliveryResult } from '../delivery/delivery-decision.js';
import type { PublishJob } from '../jobs/publish-queue.js';
import type { ContentCalendar } from './content-calendar.js';

/** What a publish job uses of the worker's context. */
export interface PublishJobContext {
  content: ContentCalendar;
  queues: QueueRegistry;
}

/**
 * Runs one publish job: a hold (not yet due, paused, kill switch, open breaker) moves it to
 * delayed and a platform rate limit pauses the queue; neither spends an attempt.
 */
export async function runPublishJob(queue: QueueDefinition, data: PublishJob, job: Job, ctx: PublishJobContext, token: string | undefined): Promise<DeliveryResult> {
  return applyJobDecision(await ctx.content.publish(data.postId, attemptOf(job)), job, token, queue, ctx.queues);
}
