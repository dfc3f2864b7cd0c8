import { composeQueue } from '../queues/compose.js';
import { defineProcessor } from '../src/jobs/processor.js';

export default defineProcessor(composeQueue, (data, _job, ctx) => ctx.compose.compose(data.messageId));
