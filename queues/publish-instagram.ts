import { definePublishQueue } from '../src/content/publish-queue.js';

/** Publishes one content-calendar post on Instagram at its scheduled time. */
export const publishInstagramQueue = definePublishQueue('instagram');
