import type { QueueDefinition } from '../src/jobs/queue-definition.js';
import type { QueueDirectory } from '../src/jobs/queue-directory.js';
import type { Channel } from '../src/core/channels.js';
import { campaignTickQueue, tickSchedulerId } from './campaign-tick.js';
import { composeQueue } from './compose.js';
import { eventJobId, eventsQueue } from './events.js';
import { importLeadsQueue } from './import-leads.js';
import { completedCampaignRollupJobId, metricsRollupQueue } from './metrics-rollup.js';
import { reconcileQueue } from './reconcile.js';
import { postMetricsQueue } from './post-metrics.js';
import { publishInstagramQueue } from './publish-instagram.js';
import { publishLinkedinQueue } from './publish-linkedin.js';
import { publishXQueue } from './publish-x.js';
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

/** The publish queue of each social platform (content-calendar posts). */
export const publishQueues = {
  linkedin: publishLinkedinQueue,
  x: publishXQueue,
  instagram: publishInstagramQueue,
} as const satisfies Record<Exclude<Channel, 'email'>, QueueDefinition>;

/** The job catalogue: every queue drumbeat runs. Each must have exactly one processor. */
export const allQueues: readonly QueueDefinition[] = [
  campaignTickQueue,
  reconcileQueue,
  ...Object.values(sendQueues),
  eventsQueue,
  importLeadsQueue,
  ...Object.values(publishQueues),
  composeQueue,
  metricsRollupQueue,
  postMetricsQueue,
];

/** The catalogue by role, as domain code reaches it (through `QueueRegistry.directory`). */
export const queueDirectory: QueueDirectory = {
  campaignTick: campaignTickQueue,
  send: sendQueues,
  publish: publishQueues,
  compose: composeQueue,
  events: eventsQueue,
  tickSchedulerId,
  eventJobId,
  metricsRollup: metricsRollupQueue,
  completedCampaignRollupJobId,
};
