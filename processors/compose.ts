import { composeQueue } from '../queues/compose.js';
import { defineProcessor } from '../src/jobs/processor.js';
import type { ComposeService } from '../src/llm/compose-service.js';

export default defineProcessor(composeQueue, (data, _job, ctx: { compose: ComposeService }) => ctx.compose.compose(data.messageId));
