import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import { findSteps } from '../campaigns/campaign-store.js';
import { suppressedIdentities } from '../suppression/suppression-store.js';
import { identityHash } from '../core/identity.js';
import { upsertLeads, type NewLead } from './lead-store.js';
import { enrollLeads } from '../enrollments/enrollment-lifecycle.js';
import { toNewLead, type Attribution, type LeadRow } from './lead-row.js';
import { mergeLeads } from './lead-import.js';

/** What capturing a list of leads did, with the position and reason of each refused item. */
export interface CaptureReport {
  total: number;
  imported: number;
  duplicates: number;
  invalid: number;
  suppressed: number;
  errors: Array<{ index: number; reason: string }>;
  /** The lead ids by item position (null for refused or suppressed items). */
  leadIds: Array<number | null>;
}

/**
 * Captures leads given as rows (the API's JSON array, a form submission) with the same rules
 * as a CSV import: each row validated (bad ones reported by position, good ones land), one
 * lead per identity (a repeat updates it), suppressed addresses counted and skipped, and, when
 * `enroll` is set, an enrollment in the campaign once per lead.
 */
export async function captureLeads(
  deps: { db: Knex; clock: Clock },
  campaignId: number,
  rows: readonly LeadRow[],
  options: { attribution?: Attribution; enroll: boolean },
): Promise<CaptureReport> {
  const { db, clock } = deps;
  const report: CaptureReport = { total: rows.length, imported: 0, duplicates: 0, invalid: 0, suppressed: 0, errors: [], leadIds: rows.map(() => null) };
  const byIdentity = new Map<string, { lead: NewLead; indexes: number[] }>();
  rows.forEach((row, index) => {
    const result = toNewLead(row, options.attribution);
    if (!result.ok) {
      report.invalid += 1;
      report.errors.push({ index, reason: result.reason });
      return;
    }
    const identity = identityHash(result.lead.email);
    const earlier = byIdentity.get(identity);
    if (earlier === undefined) byIdentity.set(identity, { lead: result.lead, indexes: [index] });
    else {
      report.duplicates += 1;
      earlier.indexes.push(index);
      earlier.lead = mergeLeads(earlier.lead, result.lead);
    }
  });
  const entries = [...byIdentity.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  const suppressed = await suppressedIdentities(db, campaignId, entries.map(([identity, { lead }]) => ({ email: lead.email, identityHash: identity })));
  report.suppressed = [...suppressed].reduce((sum, identity) => sum + (byIdentity.get(identity)?.indexes.length ?? 0), 0);
  report.duplicates -= [...suppressed].reduce((sum, identity) => sum + (byIdentity.get(identity)?.indexes.length ?? 1) - 1, 0);
  const allowed = entries.filter(([identity]) => !suppressed.has(identity));
  const firstDelay = (await findSteps(db, campaignId))[0]?.delayMs ?? 0;
  await db.transaction(async (trx) => {
    const ids = await upsertLeads(trx, allowed.map(([, { lead }]) => lead), clock.now());
    for (const [identity, { indexes }] of allowed) for (const index of indexes) report.leadIds[index] = ids.get(identity) ?? null;
    const enrolled = options.enroll ? await enrollLeads(trx, campaignId, [...ids.values()], firstDelay, clock.now()) : 0;
    report.imported = options.enroll ? enrolled : ids.size;
    report.duplicates += allowed.length - report.imported;
  });
  return report;
}
