import type { Knex } from 'knex';
import { MESSAGES } from '../messages/message-lifecycle.js';
import { messageNoteSql } from '../messages/message-store.js';

/** A lead as the console's search lists it. */
export interface LeadListing {
  id: number;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  consent: string;
  createdAt: Date;
  erasedAt: Date | null;
}

/** A message to a lead with its status and the exact text it carries (or carried). */
export interface LeadMessage {
  id: number;
  campaignId: number;
  step: number;
  channel: string;
  status: string;
  note: string | null;
  recipient: string | null;
  subject: string | null;
  body: string | null;
  format: string;
  lastError: string | null;
  sentAt: Date | null;
  createdAt: Date;
}

interface LeadListingRow {
  id: string | number;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  consent: string;
  created_at: Date;
  erased_at: Date | null;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

function rowToListing(row: LeadListingRow): LeadListing {
  return {
    id: Number(row.id),
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    company: row.company,
    consent: row.consent,
    createdAt: row.created_at,
    erasedAt: row.erased_at,
  };
}

/**
 * Leads whose email, first or last name (or both, as "First Last") or company contains `text`
 * (case-insensitive), by id, keyset-paged: those after `afterId`, at most `limit`.
 */
export async function searchLeads(db: Knex, filter: { text?: string; afterId?: number }, limit: number): Promise<LeadListing[]> {
  const query = db('leads')
    .orderBy('id')
    .limit(limit)
    .select('id', 'email', 'first_name', 'last_name', 'company', 'consent', 'created_at', 'erased_at');
  if (filter.afterId !== undefined) query.where('id', '>', filter.afterId);
  const text = filter.text?.trim();
  if (text !== undefined && text !== '') {
    const pattern = `%${escapeLike(text)}%`;
    query.where((inner) => {
      void inner
        .whereILike('email', pattern)
        .orWhereILike('first_name', pattern)
        .orWhereILike('last_name', pattern)
        .orWhereRaw(`concat_ws(' ', first_name, last_name) ILIKE ?`, [pattern])
        .orWhereILike('company', pattern);
    });
  }
  return ((await query) as LeadListingRow[]).map(rowToListing);
}

/** The lead with this id, as listed; undefined when there is none. */
export async function findLeadListing(db: Knex, id: number): Promise<LeadListing | undefined> {
  const row = (await db('leads').where({ id }).first('id', 'email', 'first_name', 'last_name', 'company', 'consent', 'created_at', 'erased_at')) as LeadListingRow | undefined;
  return row === undefined ? undefined : rowToListing(row);
}

/** Every message to a lead, oldest first, with its text and the note beside its status. */
export async function leadMessages(db: Knex, leadId: number): Promise<LeadMessage[]> {
  return (await db(`${MESSAGES} as m`)
    .where('m.lead_id', leadId)
    .orderBy('m.id')
    .select(
      'm.id',
      'm.campaign_id as campaignId',
      db.raw('m.step_index + 1 AS step'),
      'm.channel',
      'm.status',
      db.raw(`${messageNoteSql('m')} AS note`),
      'm.recipient',
      'm.subject',
      'm.body',
      'm.format',
      'm.last_error as lastError',
      'm.sent_at as sentAt',
      'm.created_at as createdAt',
    )) as LeadMessage[];
}
