import { eventsQueue } from '../queues/events.js';
import { defineProcessor } from '../src/jobs/processor.js';
import { eventService } from '../src/events/event-service.js';

export default defineProcessor(eventsQueue, (data, _job, ctx) => eventService(ctx).apply(data.inboxEventId));
