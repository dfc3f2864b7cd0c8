import { metricsRollupQueue } from '../queues/metrics-rollup.js';
import { defineProcessor } from '../src/jobs/processor.js';
import type { MetricsRollup } from '../src/analytics/metrics-rollup.js';

export default defineProcessor(metricsRollupQueue, async (data, _job, ctx: { rollup: MetricsRollup }) => {
  return ctx.rollup.run(data.campaignId === undefined ? {} : { campaignId: data.campaignId });
});
