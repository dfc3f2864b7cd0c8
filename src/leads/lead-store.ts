import type { Knex } from 'knex';
import { identityHash, normaliseEmail } from './identity.js';

export const LEADS = 'leads';
export const CAMPAIGN_LEADS = 'campaign_leads';

/** A lead as imported or captured, before it has an id. */
export interface NewLead {
  email: string;
  firstName?: string | null;
  lastName?: string | null;
  company?: string | null;
  timezone?: string | null;
  linkedinId?: string | null;
  xUserId?: string | null;
  instagramUserId?: string | null;
  custom?: Record<string, string>;
  source?: string | null;
}

/**
 * Upserts leads by identity (the same person across campaigns is one lead; newer non-empty
 * fields win) and returns their ids keyed by identity hash, in one statement.
 */
export async function upsertLeads(db: Knex, leads: readonly NewLead[], now: Date): Promise<Map<string, number>> {
  if (leads.length === 0) return new Map();
  const rows = leads.map((lead) => ({
    email: normaliseEmail(lead.email),
    identity_hash: identityHash(lead.email),
    first_name: lead.firstName ?? null,
    last_name: lead.lastName ?? null,
    company: lead.company ?? null,
    timezone: lead.timezone ?? null,
    linkedin_id: lead.linkedinId ?? null,
    x_user_id: lead.xUserId ?? null,
    instagram_user_id: lead.instagramUserId ?? null,
    custom: JSON.stringify(lead.custom ?? {}),
    source: lead.source ?? null,
    created_at: now,
    updated_at: now,
  }));
  const returned = (await db(LEADS)
    .insert(rows)
    .onConflict('identity_hash')
    .merge({
      first_name: db.raw('coalesce(excluded.first_name, leads.first_name)'),
      last_name: db.raw('coalesce(excluded.last_name, leads.last_name)'),
      company: db.raw('coalesce(excluded.company, leads.company)'),
      timezone: db.raw('coalesce(excluded.timezone, leads.timezone)'),
      linkedin_id: db.raw('coalesce(excluded.linkedin_id, leads.linkedin_id)'),
      x_user_id: db.raw('coalesce(excluded.x_user_id, leads.x_user_id)'),
      instagram_user_id: db.raw('coalesce(excluded.instagram_user_id, leads.instagram_user_id)'),
      custom: db.raw('leads.custom || excluded.custom'),
      updated_at: now,
    })
    .returning(['id', 'identity_hash'])) as Array<{ id: number; identity_hash: string }>;
  return new Map(returned.map((row) => [row.identity_hash, row.id]));
}

/**
 * Enrolls leads in a campaign, once each (`ON CONFLICT DO NOTHING` on campaign + lead); the
 * first step is due `firstDelayMs` after enrollment. Returns how many were newly enrolled.
 */
export async function enrollLeads(
  db: Knex,
  campaignId: number,
  leadIds: readonly number[],
  firstDelayMs: number,
  now: Date,
  importBatchId: number | null = null,
): Promise<number> {
  if (leadIds.length === 0) return 0;
  const result = await db.raw<{ rowCount: number }>(
    `INSERT INTO campaign_leads (campaign_id, lead_id, state, current_step, next_action_at, enrolled_at, updated_at, import_batch_id)
     SELECT ?, lead_id, 'NEW', 0, ?::timestamptz, ?::timestamptz, ?::timestamptz, ? FROM unnest(?::bigint[]) AS lead_id
     ON CONFLICT (campaign_id, lead_id) DO NOTHING`,
    [campaignId, new Date(now.getTime() + firstDelayMs), now, now, importBatchId, [...leadIds]],
  );
  return result.rowCount;
}
