import { definePublishQueue } from '../src/content/publish-queue.js';

/** Publishes one content-calendar post on Linkedin at its scheduled time. */
export const publishLinkedinQueue = definePublishQueue('linkedin');
