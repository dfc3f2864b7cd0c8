import type { Writable } from 'node:stream';
import type { Knex } from 'knex';
import type { RowError } from './import-batch-store.js';

/**
 * One CSV cell, safe to open in a spreadsheet: a value that a spreadsheet would run as a
 * formula (starting with = + - @, tab or CR) is prefixed with `'` (OWASP CSV injection), and
 * the cell is quoted when it holds a delimiter, a quote or a line break.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : value instanceof Date ? value.toISOString() : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",;\t\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line (CRLF, as RFC 4180 and spreadsheets expect). */
export function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

const exportColumns = [
  'email',
  'first_name',
  'last_name',
  'company',
  'timezone',
  'consent',
  'source',
  'source_ref',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'referrer',
  'state',
  'step',
  'enrolled_at',
] as const;

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}

/**
 * Streams a campaign's leads as CSV (keyset pages of 1000, so any size fits in memory), with
 * every cell neutralised against formula injection. `step` is the enrollment's step, 1-based
 * (one past the last once every step is done). Custom fields go in a final JSON column.
 */
export async function writeLeadsCsv(db: Knex, campaignId: number, out: Writable): Promise<number> {
  await write(out, csvLine([...exportColumns, 'custom']));
  let afterId = 0;
  let written = 0;
  for (;;) {
    const rows = (await db('campaign_leads as cl')
      .join('leads as l', 'l.id', 'cl.lead_id')
      .where('cl.campaign_id', campaignId)
      .where('cl.id', '>', afterId)
      .orderBy('cl.id')
      .limit(1000)
      .select('cl.id as enrollment_id', 'l.*', 'cl.state', db.raw('cl.current_step + 1 AS step'), 'cl.enrolled_at')) as Array<Record<string, unknown> & { enrollment_id: number; custom: unknown }>;
    if (rows.length === 0) return written;
    for (const row of rows) {
      await write(out, csvLine([...exportColumns.map((column) => row[column]), row.custom]));
      written += 1;
    }
    afterId = rows[rows.length - 1]?.enrollment_id ?? afterId;
  }
}

/** An import's error report as CSV: line, reason (neutralised like every export). */
export function errorReportCsv(errors: readonly RowError[]): string {
  return csvLine(['line', 'reason']) + errors.map((error) => csvLine([error.line, error.reason])).join('');
}
