import { definePublishQueue } from '../src/jobs/publish-queue.js';

/** Publishes one content-calendar post on Linkedin at its scheduled time. */
export const publishLinkedinQueue = definePublishQueue('linkedin');
