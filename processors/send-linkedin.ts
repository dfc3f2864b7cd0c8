import { sendLinkedinQueue as sendQueue } from '../queues/send-linkedin.js';
import { defineProcessor } from '../src/jobs/processor.js';
import { runSendJob, type SendJobContext } from '../src/messages/send-job.js';

export default defineProcessor(sendQueue, (data, job, ctx: SendJobContext, token) => runSendJob(sendQueue, data, job, ctx, token));
