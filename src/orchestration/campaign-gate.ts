import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import { capScopes, remainingCap } from '../messages/caps.js';
import { readKillSwitch } from '../settings/kill-switch.js';
import type { Campaign } from '../campaigns/campaign-store.js';
import { isInsideWindow } from '../campaigns/send-window.js';
import { CAMPAIGN_LEADS, LIVE_ENROLLMENT_STATES } from '../enrollments/enrollment-lifecycle.js';

/**
 * Whether a campaign may plan messages now, decided as its tick decides it: open (with how many
 * messages its caps still allow today), or held, and by what.
 */
export type CampaignGate =
  | { kind: 'open'; capLeft: number }
  | { kind: 'not-active' }
  | { kind: 'killed' }
  | { kind: 'outside-window' }
  | { kind: 'capped'; until: Date };

/** A campaign takes ticks only while ACTIVE with an APPROVED strategy. */
export function takesTicks(campaign: Pick<Campaign, 'status' | 'strategyStatus'>): boolean {
  return campaign.status === 'ACTIVE' && campaign.strategyStatus === 'APPROVED';
}

/**
 * The campaign-level gates of a tick, in the tick's order: ACTIVE and APPROVED, the kill switch,
 * the campaign's send window, then its remaining daily cap (global and campaign caps; a tick
 * plans every channel). The tick runs on it, and so do `worker --until-idle`'s idle check and
 * summary, so that they cannot drift apart. `killSwitchOn` is for callers that read the switch
 * already (it is read here otherwise).
 */
export async function campaignGate(
  deps: { db: Knex; config: Config },
  campaign: Campaign,
  now: Date,
  known: { killSwitchOn?: boolean } = {},
): Promise<CampaignGate> {
  if (!takesTicks(campaign)) return { kind: 'not-active' };
  if (known.killSwitchOn ?? (await readKillSwitch(deps.db)).on) return { kind: 'killed' };
  if (!isInsideWindow(now, campaign.timezone, campaign.sendWindow)) return { kind: 'outside-window' };
  const cap = await remainingCap(deps.db, capScopes(deps.config, campaign, null, now));
  if (cap.left <= 0) return { kind: 'capped', until: cap.fullUntil ?? now };
  return { kind: 'open', capLeft: cap.left };
}

/**
 * Whether any enrollment of the campaign is due now: live (NEW or ACTIVE) with its next action
 * at or before `now`, the rows the tick's batches take.
 */
export async function hasDueEnrollment(db: Knex, campaignId: number, now: Date): Promise<boolean> {
  const due: unknown = await db(CAMPAIGN_LEADS)
    .where({ campaign_id: campaignId })
    .whereIn('state', [...LIVE_ENROLLMENT_STATES])
    .whereNotNull('next_action_at')
    .where('next_action_at', '<=', now)
    .first('id');
  return due !== undefined;
}
