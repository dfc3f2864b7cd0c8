import type { z } from 'zod';
import type { Channel, SocialPlatform } from '../core/channels.js';
import type { QueueDefinition } from './queue-definition.js';
import type { PublishJob } from './publish-queue.js';
import type { SendJob } from './send-queue.js';

/** A queue whose jobs carry `Data`. */
type QueueOf<Data> = QueueDefinition<z.ZodType<Data, Data>>;

/**
 * The queues domain code adds jobs to, by role: the port through which `src/` reaches `queues/`
 * without importing it. The composition root builds it from `queues/index.ts`.
 */
export interface QueueDirectory {
  readonly campaignTick: QueueOf<{ campaignId: number; slot?: string | undefined }>;
  readonly send: Readonly<Record<Channel, QueueOf<SendJob>>>;
  readonly publish: Readonly<Record<SocialPlatform, QueueOf<PublishJob>>>;
  readonly compose: QueueOf<{ messageId: number }>;
  readonly events: QueueOf<{ inboxEventId: number }>;
  readonly metricsRollup: QueueOf<{ campaignId?: number | undefined }>;
  /** The job scheduler id of a campaign's ticks. */
  tickSchedulerId(campaignId: number): string;
  /** The job id of an inbox event's apply job. */
  eventJobId(inboxEventId: number): string;
  /** The job id of the rollup of a campaign that completed at `completedAt` (once per completion). */
  completedCampaignRollupJobId(campaignId: number, completedAt: Date): string;
}
