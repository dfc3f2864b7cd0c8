import { metricsRollupQueue } from '../queues/metrics-rollup.js';
import { defineProcessor } from '../src/jobs/processor.js';

export default defineProcessor(metricsRollupQueue, async (data, _job, ctx) => {
  return ctx.metrics.run(data.campaignId === undefined ? {} : { campaignId: data.campaignId });
});
