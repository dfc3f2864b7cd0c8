import type { QueueDefinition } from '../src/jobs/queue-definition.js';
import type { Channel } from '../src/campaigns/campaign-spec.js';
import { campaignTickQueue } from './campaign-tick.js';
import { eventsQueue } from './events.js';
import { reconcileQueue } from './reconcile.js';
import { sendEmailQueue } from './send-email.js';
import { sendInstagramQueue } from './send-instagram.js';
import { sendLinkedinQueue } from './send-linkedin.js';
import { sendXQueue } from './send-x.js';

/** The send queue of each channel. */
export const sendQueues = {
  email: sendEmailQueue,
  linkedin: sendLinkedinQueue,
  x: sendXQueue,
  instagram: sendInstagramQueue,
} as const satisfies Record<Channel, QueueDefinition>;

/** The job catalogue: every queue drumbeat runs. Each must have exactly one processor. */
export const allQueues: readonly QueueDefinition[] = [campaignTickQueue, reconcileQueue, ...Object.values(sendQueues), eventsQueue];
