import { publishXQueue as publishQueue } from '../queues/publish-x.js';
import { defineProcessor } from '../src/jobs/processor.js';
import { runPublishJob, type PublishJobContext } from '../src/content/publish-job.js';

export default defineProcessor(publishQueue, (data, job, ctx: PublishJobContext, token) => runPublishJob(publishQueue, data, job, ctx, token));
