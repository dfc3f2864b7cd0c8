import { eventsQueue } from '../queues/events.js';
import { defineProcessor } from '../src/jobs/processor.js';
import { eventService, type EventServiceDeps } from '../src/events/event-service.js';

export default defineProcessor(eventsQueue, (data, _job, ctx: EventServiceDeps) => eventService(ctx).apply(data.inboxEventId));
