import type { Channel } from '../core/channels.js';

/**
 * Pauses the campaigns a sender's fault stops (an account, relay, token or config failure):
 * the port through which sends and posts reach the campaign lifecycle, which sits above them.
 */
export interface CampaignPauser {
  /** Pauses the campaign (or every ACTIVE campaign on the failing account); returns those it paused. */
  pauseForSenderFault(fault: { channel: Channel; campaignId: number; reason: string }): Promise<ReadonlyArray<{ id: number }>>;
}
