import type { Knex } from 'knex';
import type { Channel } from '../core/channels.js';

/**
 * Pauses the campaigns a sender's fault stops (an account, relay, token or config failure):
 * the port through which sends and posts reach the campaign lifecycle, which sits above them.
 */
export interface CampaignPauser {
  /** Pauses the campaign (or every ACTIVE campaign on the failing account); returns those it paused. */
  pauseForSenderFault(fault: { channel: Channel; campaignId: number; reason: string }): Promise<ReadonlyArray<{ id: number }>>;
}

/** A campaign the guard paused, as event application reports it. */
export interface PausedCampaign {
  id: number;
  pauseReason: string | null;
}

/**
 * Pauses a campaign for a reason of drumbeat's own (the deliverability guard) inside the caller's
 * transaction, then stops its ticks once that commits: the port through which event application
 * reaches the campaign lifecycle.
 */
export interface GuardPauser {
  /** Compare-and-set ACTIVE → PAUSED with the reason, within `trx`; undefined when it was not ACTIVE. */
  pauseByDrumbeatWithin(trx: Knex, id: number, reason: string): Promise<PausedCampaign | undefined>;
  /** After the commit: stops the campaign's ticks and logs the pause. */
  afterPauseByDrumbeat(campaign: PausedCampaign): Promise<void>;
}
