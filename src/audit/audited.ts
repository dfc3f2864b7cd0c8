import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import { recordAudit, type AuditVia } from './audit-log.js';

/** Who is acting and through what, with where to record it: built once per request or command. */
export interface Auditor {
  db: Knex;
  clock: Clock;
  actor: string;
  via: AuditVia;
}

/** A subject id as known before the change, or as read from its result (a new row's id). */
type SubjectId<T> = string | number | null | ((result: T) => string | number | null);

/** What a change is about: `action` (`campaign.pause`) on one subject, and its state before. */
export interface AuditedChange<T> {
  action: string;
  subjectType: string;
  subjectId: SubjectId<T>;
  before?: unknown;
}

/**
 * Runs `change` (a call into the service that owns the rule) and, once it has succeeded,
 * records it in the audit log with the state `after` reads from its result. A change that
 * throws is not recorded: nothing changed. The record is written after the service committed,
 * so the edges (pages, API, CLI) share one way to audit without every service taking an actor.
 */
export async function audited<T>(auditor: Auditor, what: AuditedChange<T>, change: () => Promise<T>, after: (result: T) => unknown): Promise<T> {
  const result = await change();
  const subjectId = typeof what.subjectId === 'function' ? what.subjectId(result) : what.subjectId;
  await recordAudit(
    auditor.db,
    {
      actor: auditor.actor,
      via: auditor.via,
      action: what.action,
      subjectType: what.subjectType,
      subjectId: subjectId === null ? null : String(subjectId),
      before: what.before,
      after: after(result),
    },
    auditor.clock.now(),
  );
  return result;
}
