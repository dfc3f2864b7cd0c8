import { postMetricsQueue } from '../queues/post-metrics.js';
import { defineProcessor } from '../src/jobs/processor.js';
import type { PostMetricsService } from '../src/analytics/post-metrics-service.js';

export default defineProcessor(postMetricsQueue, (data, _job, ctx: { postMetrics: PostMetricsService }) => ctx.postMetrics.fetch(data));
