import type { Knex } from 'knex';
import { identityHash, normaliseEmail } from '../core/identity.js';

export const LEADS = 'leads';

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
  sourceRef?: string | null;
  utmSource?: string | null;
  utmMedium?: string | null;
  utmCampaign?: string | null;
  utmContent?: string | null;
  utmTerm?: string | null;
  referrer?: string | null;
  /** What the lead agreed to; UNKNOWN (the default) never overwrites a known value. */
  consent?: Consent;
}

/** Consent to be contacted, as recorded on the lead. */
export type Consent = 'UNKNOWN' | 'GRANTED' | 'DENIED' | 'WITHDRAWN';

/**
 * Upserts leads by identity (the same person across campaigns is one lead; newer non-empty
 * fields win, attribution is first touch) and returns their ids keyed by identity hash, in one
 * statement. Give each identity once per call (Postgres refuses to update a row twice).
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
    source_ref: lead.sourceRef ?? null,
    utm_source: lead.utmSource ?? null,
    utm_medium: lead.utmMedium ?? null,
    utm_campaign: lead.utmCampaign ?? null,
    utm_content: lead.utmContent ?? null,
    utm_term: lead.utmTerm ?? null,
    referrer: lead.referrer ?? null,
    consent: lead.consent ?? 'UNKNOWN',
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
      // Attribution is first touch: the source that first brought the lead is kept.
      source: db.raw('coalesce(leads.source, excluded.source)'),
      source_ref: db.raw('coalesce(leads.source_ref, excluded.source_ref)'),
      utm_source: db.raw('coalesce(leads.utm_source, excluded.utm_source)'),
      utm_medium: db.raw('coalesce(leads.utm_medium, excluded.utm_medium)'),
      utm_campaign: db.raw('coalesce(leads.utm_campaign, excluded.utm_campaign)'),
      utm_content: db.raw('coalesce(leads.utm_content, excluded.utm_content)'),
      utm_term: db.raw('coalesce(leads.utm_term, excluded.utm_term)'),
      referrer: db.raw('coalesce(leads.referrer, excluded.referrer)'),
      // A withdrawal stands until the person grants consent again themselves (not by a re-import).
      consent: db.raw(`CASE WHEN leads.consent = 'WITHDRAWN' OR excluded.consent = 'UNKNOWN' THEN leads.consent ELSE excluded.consent END`),
      updated_at: now,
    })
    .returning(['id', 'identity_hash'])) as Array<{ id: number; identity_hash: string }>;
  return new Map(returned.map((row) => [row.identity_hash, row.id]));
}

/** The identifying columns of a lead (email is null once erased). */
export interface LeadIdentity {
  id: number;
  email: string | null;
  identityHash: string;
}

/**
 * Finds a lead by id; with `lock`, holds its row until the transaction ends, so that the
 * feedback events of one lead are applied one at a time.
 */
export async function findLeadIdentity(db: Knex, id: number, lock = false): Promise<LeadIdentity | undefined> {
  const query = db(LEADS).where({ id });
  if (lock) query.forUpdate();
  const row = (await query.first('id', 'email', 'identity_hash')) as
    | { id: number; email: string | null; identity_hash: string }
    | undefined;
  return row === undefined ? undefined : { id: row.id, email: row.email, identityHash: row.identity_hash };
}

/** Finds a lead by address, through its identity hash (so it works for any spelling of the address); `lock` as above. */
export async function findLeadByEmail(db: Knex, email: string, lock = false): Promise<LeadIdentity | undefined> {
  const query = db(LEADS).where({ identity_hash: identityHash(email) });
  if (lock) query.forUpdate();
  const row = (await query.first('id', 'email', 'identity_hash')) as
    | { id: number; email: string | null; identity_hash: string }
    | undefined;
  return row === undefined ? undefined : { id: row.id, email: row.email, identityHash: row.identity_hash };
}
