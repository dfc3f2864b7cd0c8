import { campaignTickQueue } from '../queues/campaign-tick.js';
import { defineProcessor } from '../src/jobs/processor.js';
import type { TickService } from '../src/orchestration/tick-service.js';

/**
 * A scheduled tick's slot is the instant the scheduler meant it to run, so a tick that is
 * retried or delivered twice maps to the same `tick_runs` row; a manual tick carries its own.
 */
export default defineProcessor(campaignTickQueue, (data, job, ctx: { ticks: TickService }) => {
  const slot = data.slot === undefined ? new Date(job.timestamp + (job.opts.delay ?? 0)) : new Date(data.slot);
  return ctx.ticks.runTick(data.campaignId, slot);
});
