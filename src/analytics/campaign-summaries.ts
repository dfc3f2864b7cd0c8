import type { Knex } from 'knex';
import { sqlWords } from '../db/bindings.js';
import { CAMPAIGN_LEADS, LIVE_ENROLLMENT_STATES } from '../enrollments/enrollment-lifecycle.js';
import { DELIVERED_STATUSES, MESSAGES } from '../messages/message-lifecycle.js';

/** A campaign's progress figures for the campaign list. */
export interface CampaignSummary {
  leads: number;
  /** Enrollments that are over (completed, replied, bounced, unsubscribed, suppressed, failed). */
  finished: number;
  /** Messages delivered (SENT, or SENT_PROOF in PROOF mode). */
  sent: number;
  replied: number;
  bounced: number;
}

const empty: CampaignSummary = { leads: 0, finished: 0, sent: 0, replied: 0, bounced: 0 };

/** Progress figures of every campaign that has leads, by campaign id, counted from Postgres. */
export async function campaignSummaries(db: Knex): Promise<Map<number, CampaignSummary>> {
  const [enrollments, sends] = await Promise.all([
    db(CAMPAIGN_LEADS)
      .groupBy('campaign_id')
      .select(
        'campaign_id',
        db.raw('count(*)::int AS leads'),
        db.raw(`count(*) FILTER (WHERE state NOT IN (${sqlWords(LIVE_ENROLLMENT_STATES)}))::int AS finished`),
        db.raw(`count(*) FILTER (WHERE state = 'REPLIED')::int AS replied`),
        db.raw(`count(*) FILTER (WHERE state = 'BOUNCED')::int AS bounced`),
      ) as Promise<Array<{ campaign_id: number | string; leads: number; finished: number; replied: number; bounced: number }>>,
    db(MESSAGES).whereIn('status', [...DELIVERED_STATUSES]).groupBy('campaign_id').select('campaign_id', db.raw('count(*)::int AS sent')) as Promise<
      Array<{ campaign_id: number | string; sent: number }>
    >,
  ]);
  const summaries = new Map<number, CampaignSummary>();
  for (const row of enrollments) summaries.set(Number(row.campaign_id), { ...empty, leads: row.leads, finished: row.finished, replied: row.replied, bounced: row.bounced });
  for (const row of sends) {
    const id = Number(row.campaign_id);
    summaries.set(id, { ...(summaries.get(id) ?? empty), sent: row.sent });
  }
  return summaries;
}

/** The summary of a campaign with nothing counted yet. */
export function emptySummary(): CampaignSummary {
  return { ...empty };
}
