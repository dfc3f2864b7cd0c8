import { sendEmailQueue as sendQueue } from '../queues/send-email.js';
import { defineProcessor } from '../src/jobs/processor.js';
import { runSendJob } from '../src/messages/send-job.js';

export default defineProcessor(sendQueue, (data, job, ctx, token) => runSendJob(sendQueue, data, job, ctx, token));
