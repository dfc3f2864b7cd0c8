import { publishXQueue as publishQueue } from '../queues/publish-x.js';
import { defineProcessor } from '../src/jobs/processor.js';
import { runPublishJob } from '../src/content/publish-job.js';

export default defineProcessor(publishQueue, (data, job, ctx, token) => runPublishJob(publishQueue, data, job, ctx, token));
