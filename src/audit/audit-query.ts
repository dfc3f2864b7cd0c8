import type { Knex } from 'knex';
import { AUDIT_LOG, type AuditVia } from './audit-log.js';

/** One entry of the audit log as read back. */
export interface AuditRecord {
  id: number;
  at: Date;
  actor: string;
  via: AuditVia;
  action: string;
  subjectType: string;
  subjectId: string | null;
  before: unknown;
  after: unknown;
}

/** What the audit log page filters by; every field optional. */
export interface AuditFilter {
  /** Part of the actor (case-insensitive): an email, `token:`, `cli:`. */
  actor?: string;
  /** An exact action (`campaign.pause`), or a prefix ending in `.` (`campaign.`). */
  action?: string;
  subjectType?: string;
  /** Subject ids to match (the id as typed, and e.g. its identity hash for an address). */
  subjectIds?: readonly string[];
  /** From this moment on (inclusive). */
  from?: Date;
  /** Before this moment (exclusive). */
  to?: Date;
  /** Keyset paging: only entries older than this id. */
  beforeId?: number;
}

interface AuditRow {
  id: string | number;
  at: Date;
  actor: string;
  via: AuditVia;
  action: string;
  subject_type: string;
  subject_id: string | null;
  before: unknown;
  after: unknown;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/** Entries matching `filter`, newest first, at most `limit` (keyset-paged by id). */
export async function listAuditEntries(db: Knex, filter: AuditFilter, limit: number): Promise<AuditRecord[]> {
  const query = db(AUDIT_LOG).orderBy('id', 'desc').limit(limit);
  if (filter.beforeId !== undefined) query.where('id', '<', filter.beforeId);
  if (filter.actor !== undefined) query.whereILike('actor', `%${escapeLike(filter.actor)}%`);
  if (filter.action !== undefined) {
    if (filter.action.endsWith('.')) query.whereLike('action', `${escapeLike(filter.action)}%`);
    else query.where('action', filter.action);
  }
  if (filter.subjectType !== undefined) query.where('subject_type', filter.subjectType);
  if (filter.subjectIds !== undefined) query.whereIn('subject_id', [...filter.subjectIds]);
  if (filter.from !== undefined) query.where('at', '>=', filter.from);
  if (filter.to !== undefined) query.where('at', '<', filter.to);
  const rows = (await query) as AuditRow[];
  return rows.map((row) => ({
    id: Number(row.id),
    at: row.at,
    actor: row.actor,
    via: row.via,
    action: row.action,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    before: row.before,
    after: row.after,
  }));
}

/** The distinct actions and subject types recorded so far, for the page's filter choices. */
export async function auditVocabulary(db: Knex): Promise<{ actions: string[]; subjectTypes: string[] }> {
  const [actions, subjectTypes] = await Promise.all([
    db(AUDIT_LOG).distinct('action').orderBy('action').pluck('action') as Promise<string[]>,
    db(AUDIT_LOG).distinct('subject_type').orderBy('subject_type').pluck('subject_type') as Promise<string[]>,
  ]);
  return { actions, subjectTypes };
}
