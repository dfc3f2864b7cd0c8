import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parse } from 'csv-parse';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Clock } from '../runtime/clock.js';
import { findCampaign, findSteps } from '../campaigns/campaign-store.js';
import { identityHash } from './identity.js';
import { enrollLeads, upsertLeads, type NewLead } from './lead-store.js';

export interface ImportReport {
  batchId: number;
  total: number;
  imported: number;
  duplicates: number;
  invalid: number;
  errors: Array<{ line: number; reason: string }>;
}

/** Header spellings mapped to lead fields (compared lower-cased, without spaces, dashes, underscores). */
const headerAliases: Record<string, keyof NewLead> = {
  email: 'email',
  emailaddress: 'email',
  firstname: 'firstName',
  lastname: 'lastName',
  company: 'company',
  timezone: 'timezone',
};

const noLineBreaks = (field: string) =>
  z
    .string()
    .trim()
    .refine((value) => !/[\r\n]/.test(value), `${field} may not contain line breaks`)
    .transform((value) => (value === '' ? null : value));

const leadRowSchema = z.object({
  email: z.string().trim().toLowerCase().pipe(z.email('not a valid email address')),
  firstName: noLineBreaks('first name').nullable().default(null),
  lastName: noLineBreaks('last name').nullable().default(null),
  company: noLineBreaks('company').nullable().default(null),
  timezone: noLineBreaks('timezone').nullable().default(null),
});

function normaliseHeader(header: string): string {
  return header.replace(/^\uFEFF/, '').toLowerCase().replace(/[\s_-]/g, '');
}

/**
 * A basic CSV lead importer: columns email, first_name / "First Name", last_name, company.
 * Each row is validated; bad rows are reported with their line number while good rows land.
 * Leads are deduplicated within the file and the campaign, and enrolled in batches.
 */
export async function importLeadsCsv(
  deps: { db: Knex; clock: Clock },
  campaignId: number,
  path: string,
  batchSize = 1000,
): Promise<ImportReport> {
  const { db, clock } = deps;
  const campaign = await findCampaign(db, campaignId);
  if (campaign === undefined) throw new Error(`campaign ${campaignId} does not exist`);
  const firstDelay = (await findSteps(db, campaignId))[0]?.delayMs ?? 0;
  const fileHash = createHash('sha256').update(await readFile(path)).digest('hex');
  const [batch] = (await db('import_batches')
    .insert({ campaign_id: campaignId, file_name: basename(path), file_hash: fileHash, created_by: 'cli' })
    .returning('id')) as Array<{ id: number }>;
  if (batch === undefined) throw new Error('import batch insert returned no id');

  const report: ImportReport = { batchId: batch.id, total: 0, imported: 0, duplicates: 0, invalid: 0, errors: [] };
  const seen = new Set<string>();
  let pending: NewLead[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const leads = pending;
    pending = [];
    const ids = await upsertLeads(db, leads, clock.now());
    const enrolled = await enrollLeads(db, campaignId, [...ids.values()], firstDelay, clock.now(), batch.id);
    report.imported += enrolled;
    report.duplicates += leads.length - enrolled;
  };

  const parser = createReadStream(path).pipe(
    parse({ bom: true, columns: (headers: string[]) => headers.map(normaliseHeader), skip_empty_lines: true, relax_column_count: true }),
  );
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    report.total += 1;
    const line = (parser.info as { lines: number }).lines;
    const mapped: Record<string, string> = {};
    for (const [header, value] of Object.entries(record)) {
      const field = headerAliases[header];
      if (field !== undefined) mapped[field] = value;
    }
    const parsed = leadRowSchema.safeParse(mapped);
    if (!parsed.success) {
      report.invalid += 1;
      report.errors.push({ line, reason: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'row'}: ${issue.message}`).join('; ') });
      continue;
    }
    const identity = identityHash(parsed.data.email);
    if (seen.has(identity)) {
      report.duplicates += 1;
      continue;
    }
    seen.add(identity);
    pending.push({ ...parsed.data, source: 'import' });
    if (pending.length >= batchSize) await flush();
  }
  await flush();
  await db('import_batches')
    .where({ id: batch.id })
    .update({
      status: 'DONE',
      total: report.total,
      imported: report.imported,
      duplicates: report.duplicates,
      invalid: report.invalid,
      errors: JSON.stringify(report.errors),
      finished_at: clock.now(),
    });
  return report;
}
