import { postMetricsQueue } from '../queues/post-metrics.js';
import { defineProcessor } from '../src/jobs/processor.js';

export default defineProcessor(postMetricsQueue, (data, _job, ctx) => ctx.postMetrics.fetch(data));
