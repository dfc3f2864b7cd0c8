import { definePublishQueue } from '../src/jobs/publish-queue.js';

/** Publishes one content-calendar post on X at its scheduled time. */
export const publishXQueue = definePublishQueue('x');
