import type { Router } from 'express';
import { z } from 'zod';
import type { HttpContext } from '../http-context.js';
import { auditVocabulary, listAuditEntries, type AuditFilter } from '../../audit/audit-query.js';
import { identityHash, normaliseEmail } from '../../core/identity.js';
import { isEmailAddress } from '../../core/email-address.js';
import { entityId } from '../params.js';
import { pageRoute } from './page-route.js';
import { renderAdminPage } from './render.js';

/** Entries per page of the audit log. */
const ENTRIES_PER_PAGE = 50;

/** A text filter as a GET form sends it: empty means no filter. */
const filterText = z
  .string()
  .max(320)
  .transform((value) => value.trim())
  .optional()
  .transform((value) => (value === undefined || value === '' ? undefined : value));
const dayFilter = z
  .string()
  .max(10)
  .optional()
  .transform((value) => (value === undefined || value === '' ? undefined : value))
  .pipe(z.iso.date('a date (YYYY-MM-DD)').optional());

const auditQuery = z.object({
  actor: filterText,
  action: filterText,
  subjectType: filterText,
  subjectId: filterText,
  from: dayFilter,
  to: dayFilter,
  before: entityId.optional(),
});

const DAY_MS = 86_400_000;

/**
 * The subject ids a typed subject matches: itself and, for an address, its identity hash (the
 * audit log names people by hash, so that forgetting them leaves nothing readable there).
 */
function subjectIdsFor(typed: string): string[] {
  const address = normaliseEmail(typed);
  return isEmailAddress(address) ? [typed, identityHash(address)] : [typed];
}

/**
 * The audit log page (`/admin/audit`): every state change a person made from the console, the
 * API or the CLI, newest first, filtered by actor, action, subject and dates (UTC days), paged
 * by keyset. Read-only and open to every role.
 */
export function auditPages(router: Router, ctx: HttpContext): void {
  router.get(
    '/audit',
    pageRoute(async (req, res) => {
      const query = auditQuery.parse(req.query);
      const filter: AuditFilter = {
        actor: query.actor,
        action: query.action,
        subjectType: query.subjectType,
        subjectIds: query.subjectId === undefined ? undefined : subjectIdsFor(query.subjectId),
        from: query.from === undefined ? undefined : new Date(`${query.from}T00:00:00Z`),
        to: query.to === undefined ? undefined : new Date(Date.parse(`${query.to}T00:00:00Z`) + DAY_MS),
        beforeId: query.before,
      };
      const [entries, vocabulary] = await Promise.all([listAuditEntries(ctx.db, filter, ENTRIES_PER_PAGE + 1), auditVocabulary(ctx.db)]);
      const shown = entries.slice(0, ENTRIES_PER_PAGE);
      const next = entries.length > ENTRIES_PER_PAGE ? shown[shown.length - 1]?.id : undefined;
      const kept = new URLSearchParams();
      for (const key of ['actor', 'action', 'subjectType', 'subjectId', 'from', 'to'] as const) {
        const value = query[key];
        if (value !== undefined) kept.set(key, value);
      }
      if (next !== undefined) kept.set('before', String(next));
      renderAdminPage(res, 'audit', {
        title: 'Audit log',
        section: 'audit',
        query,
        entries: shown.map((entry) => ({ ...entry, beforeText: entry.before === null ? null : JSON.stringify(entry.before), afterText: entry.after === null ? null : JSON.stringify(entry.after) })),
        actions: vocabulary.actions,
        subjectTypes: vocabulary.subjectTypes,
        nextHref: next === undefined ? null : `/admin/audit?${kept.toString()}`,
      });
    }),
  );
}
