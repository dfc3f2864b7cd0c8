import type { Knex } from 'knex';

/**
 * Marks a lead's enrollment in a campaign REPLIED: the sequence stops for it, and any message
 * already queued for a stop-on-reply step is skipped by the send gate. Returns whether a live
 * enrollment changed.
 */
export async function markReplied(db: Knex, campaignId: number, leadId: number, now: Date): Promise<boolean> {
  const changed = await db('campaign_leads')
    .where({ campaign_id: campaignId, lead_id: leadId })
    .whereIn('state', ['NEW', 'ACTIVE'])
    .update({ state: 'REPLIED', end_reason: 'replied', ended_at: now, next_action_at: null, updated_at: now });
  return changed === 1;
}
