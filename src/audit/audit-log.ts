import type { Knex } from 'knex';

/** The append-only table of every state change a person makes. */
export const AUDIT_LOG = 'audit_log';

/** Where a change was made: an admin page, the admin JSON API, or the CLI. */
export const AUDIT_VIAS = ['page', 'api', 'cli'] as const;
export type AuditVia = (typeof AUDIT_VIAS)[number];

/**
 * One state change a person made. `actor` is an operator's email, `token:<name>` for an API
 * token, or `cli:<os user>`; `before` / `after` are the state around the change as plain JSON
 * (never a secret: a token's value or a password is never part of them).
 */
export interface AuditEntry {
  actor: string;
  via: AuditVia;
  action: string;
  subjectType: string;
  subjectId: string | null;
  before?: unknown;
  after?: unknown;
}

function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/**
 * Appends one entry to the audit log at `at`. Pass the transaction of the change itself where
 * there is one, so that the change and its record commit together.
 */
export async function recordAudit(db: Knex, entry: AuditEntry, at: Date): Promise<void> {
  await recordAuditEntries(db, [entry], at);
}

/** Appends several entries made at the same moment (a bulk decision), in one statement. */
export async function recordAuditEntries(db: Knex, entries: readonly AuditEntry[], at: Date): Promise<void> {
  if (entries.length === 0) return;
  await db(AUDIT_LOG).insert(
    entries.map((entry) => ({
      at,
      actor: entry.actor,
      via: entry.via,
      action: entry.action,
      subject_type: entry.subjectType,
      subject_id: entry.subjectId,
      before: toJson(entry.before),
      after: toJson(entry.after),
    })),
  );
}
