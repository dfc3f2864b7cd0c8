import { definePublishQueue } from '../src/jobs/publish-queue.js';

/** Publishes one content-calendar post on Instagram at its scheduled time. */
export const publishInstagramQueue = definePublishQueue('instagram');
