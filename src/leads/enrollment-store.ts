import type { Knex } from 'knex';
import type { EnrollmentState } from '../messages/message-store.js';

/** The states in which an enrollment is still live (the sequence may send). */
export const LIVE_STATES = ['NEW', 'ACTIVE'] as const;

/** Campaign ids where the lead's enrollment is live. */
export async function liveCampaignIds(db: Knex, leadId: number): Promise<number[]> {
  const rows = (await db('campaign_leads').where({ lead_id: leadId }).whereIn('state', LIVE_STATES).select('campaign_id')) as Array<{
    campaign_id: number;
  }>;
  return rows.map((row) => row.campaign_id);
}

/**
 * Ends the lead's live enrollments (in one campaign, or in all when `campaignId` is null) with
 * a final state: a compare-and-set from NEW/ACTIVE, so an ended enrollment never moves again.
 * Returns how many changed.
 */
export async function endLiveEnrollments(
  db: Knex,
  change: { leadId: number; campaignId: number | null; state: EnrollmentState; reason: string; now: Date },
): Promise<number> {
  const query = db('campaign_leads').where({ lead_id: change.leadId }).whereIn('state', LIVE_STATES);
  if (change.campaignId !== null) query.andWhere({ campaign_id: change.campaignId });
  return query.update({ state: change.state, end_reason: change.reason, ended_at: change.now, next_action_at: null, updated_at: change.now });
}

/**
 * Soft bounces of a lead in a row: those on its timeline after its latest delivery, by the
 * time they happened (providers deliver events out of order, so arrival order cannot say).
 * The count is copied to the live enrollments' `soft_bounces` for operators to see.
 */
export async function softBouncesInARow(db: Knex, leadId: number, now: Date): Promise<number> {
  const { rows } = await db.raw<{ rows: Array<{ count: number }> }>(
    `SELECT count(*)::int AS count FROM contact_events
      WHERE lead_id = ? AND type = 'bounced_soft'
        AND occurred_at > coalesce((SELECT max(occurred_at) FROM contact_events WHERE lead_id = ? AND type = 'delivered'), '-infinity')`,
    [leadId, leadId],
  );
  const count = rows[0]?.count ?? 0;
  await db('campaign_leads').where({ lead_id: leadId }).whereIn('state', LIVE_STATES).update({ soft_bounces: count, updated_at: now });
  return count;
}
