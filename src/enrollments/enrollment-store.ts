import type { Knex } from 'knex';
import { CAMPAIGN_LEADS, LIVE_ENROLLMENT_STATES } from './enrollment-lifecycle.js';

/** Campaign ids where the lead's enrollment is live. */
export async function liveCampaignIds(db: Knex, leadId: number): Promise<number[]> {
  const rows = (await db(CAMPAIGN_LEADS).where({ lead_id: leadId }).whereIn('state', [...LIVE_ENROLLMENT_STATES]).select('campaign_id')) as Array<{
    campaign_id: number;
  }>;
  return rows.map((row) => row.campaign_id);
}

/**
 * Soft bounces of a lead in a row: those on its timeline after its latest delivery, by the
 * time they happened (providers deliver events out of order, so arrival order cannot say).
 */
export async function softBouncesInARow(db: Knex, leadId: number): Promise<number> {
  const { rows } = await db.raw<{ rows: Array<{ count: number }> }>(
    `SELECT count(*)::int AS count FROM contact_events
      WHERE lead_id = ? AND type = 'bounced_soft'
        AND occurred_at > coalesce((SELECT max(occurred_at) FROM contact_events WHERE lead_id = ? AND type = 'delivered'), '-infinity')`,
    [leadId, leadId],
  );
  return rows[0]?.count ?? 0;
}
