import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { parse, type CsvError } from 'csv-parse';
import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import { NotFoundError } from '../core/domain-error.js';
import { loadCampaignDefinition } from '../campaigns/campaign-definition.js';
import { suppressedIdentities } from '../suppression/suppression-store.js';
import { identityHash } from '../core/identity.js';
import { upsertLeads, type NewLead } from './lead-store.js';
import { enrollLeads } from '../enrollments/enrollment-lifecycle.js';
import { removeUpload, uploadDirectory, uploadPath } from './import-uploads.js';
import { planColumns, recordToRow, toNewLead, type Attribution, type ColumnPlan, type LeadField } from './lead-row.js';
import {
  findDoneImport,
  finishImportBatch,
  insertImportBatch,
  updateImportCounts,
  type ImportCounts,
  type RowError,
} from './import-batch-store.js';

/** Row errors kept in the batch record; beyond this they are counted, not listed. */
export const MAX_STORED_ERRORS = 10_000;

export interface ImportOptions {
  campaignId: number;
  path: string;
  /** The name shown in `leads imports`. @defaultValue the file's base name */
  fileName: string;
  createdBy: string | null;
  /** Import even when the same content was imported into the campaign before. */
  force?: boolean;
  /** Explicit column mappings (`--map`), by header key; null ignores a column. */
  columnMap?: ReadonlyMap<string, LeadField | null>;
  /** Attribution for rows that carry none of their own. */
  attribution?: Attribution;
  /** Rows per database round trip. @defaultValue 2000 */
  batchSize?: number;
  /** Batches written to the database at once while parsing continues. @defaultValue 4 */
  concurrency?: number;
  /** Called every few batches with the counts so far and the bytes read. */
  onProgress?: (counts: ImportCounts, bytesRead: number) => void | Promise<void>;
}

export type ImportReport =
  | ({ outcome: 'imported'; batchId: number; fileHash: string; errors: RowError[]; moreErrors: number } & ImportCounts)
  | { outcome: 'already-imported'; batchId: number; fileHash: string };

/** SHA-256 of a file's bytes, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The delimiter of a CSV, from its header line: the most frequent of `,` `;` and tab. */
export async function detectDelimiter(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(65_536), 0, 65_536, 0);
    const head = buffer.subarray(0, bytesRead).toString('utf8');
    const firstLine = head.split(/\r?\n/, 1)[0] ?? '';
    const unquoted = firstLine.replace(/"[^"]*"/g, '');
    const counts = [',', ';', '\t'].map((delimiter) => ({ delimiter, count: unquoted.split(delimiter).length - 1 }));
    counts.sort((a, b) => b.count - a.count);
    return counts[0] !== undefined && counts[0].count > 0 ? counts[0].delimiter : ',';
  } finally {
    await file.close();
  }
}

/**
 * Two rows of one person in one batch, merged the way the database merges rows of different
 * batches (see `upsertLeads`): newer non-empty fields win, attribution is first touch, an
 * UNKNOWN consent leaves a known one alone.
 */
export function mergeLeads(earlier: NewLead, later: NewLead): NewLead {
  return {
    email: later.email,
    firstName: later.firstName ?? earlier.firstName,
    lastName: later.lastName ?? earlier.lastName,
    company: later.company ?? earlier.company,
    timezone: later.timezone ?? earlier.timezone,
    linkedinId: later.linkedinId ?? earlier.linkedinId,
    xUserId: later.xUserId ?? earlier.xUserId,
    instagramUserId: later.instagramUserId ?? earlier.instagramUserId,
    custom: { ...earlier.custom, ...later.custom },
    source: earlier.source ?? later.source,
    sourceRef: earlier.sourceRef ?? later.sourceRef,
    utmSource: earlier.utmSource ?? later.utmSource,
    utmMedium: earlier.utmMedium ?? later.utmMedium,
    utmCampaign: earlier.utmCampaign ?? later.utmCampaign,
    utmContent: earlier.utmContent ?? later.utmContent,
    utmTerm: earlier.utmTerm ?? later.utmTerm,
    referrer: earlier.referrer ?? later.referrer,
    consent: later.consent === undefined || later.consent === 'UNKNOWN' ? earlier.consent : later.consent,
  };
}

interface ParsedRecord {
  record: string[];
  info: { lines: number; empty_lines: number };
}

/** Where a started import writes: its campaign, its batch record, and the delay of the campaign's first step. */
interface ImportTarget {
  campaignId: number;
  batchId: number;
  firstDelay: number;
}

/**
 * Reads what an import needs before the file: the campaign (it must exist), the file's hash, and
 * whether the same content was imported before (then nothing is imported, unless `force`);
 * otherwise records the new batch.
 */
async function startImport(
  { db, clock }: { db: Knex; clock: Clock },
  options: ImportOptions,
): Promise<Extract<ImportReport, { outcome: 'already-imported' }> | ({ outcome: 'started'; fileHash: string } & ImportTarget)> {
  const { campaignId } = options;
  const definition = await loadCampaignDefinition(db, campaignId);
  if (definition === undefined) throw new NotFoundError(`campaign ${campaignId} does not exist`);
  const fileHash = await fileSha256(options.path);
  if (options.force !== true) {
    const previous = await findDoneImport(db, campaignId, fileHash);
    if (previous !== undefined) return { outcome: 'already-imported', batchId: previous.id, fileHash };
  }
  const batchId = await insertImportBatch(db, { campaignId, fileName: options.fileName, fileHash, createdBy: options.createdBy, now: clock.now() });
  return { outcome: 'started', fileHash, campaignId, batchId, firstDelay: definition.steps[0]?.delayMs ?? 0 };
}

/** The valid rows of an import on their way to the database, in batches written while parsing goes on. */
interface LeadBatches {
  /** Adds a row's lead; a second row of the same person in this batch is merged into the first and counted as a duplicate. */
  add(identity: string, lead: NewLead): void;
  /** Hands the batch to the database when it is full; true when it did. Throws an earlier batch's failure. */
  flushIfFull(): Promise<boolean>;
  /** Writes what is left and waits for every batch; throws the first failure. */
  drain(): Promise<void>;
  /** Waits for every batch already handed over, failed or not. */
  settle(): Promise<void>;
}

/**
 * Writes one batch of leads in one transaction: in identity order (concurrent batches lock the
 * same leads in the same order, so no deadlock), suppressed people counted and left out, the
 * rest upserted and enrolled. Adds what became of its `rows` to `counts`.
 */
async function writeLeadBatch(
  { db, clock }: { db: Knex; clock: Clock },
  target: ImportTarget,
  counts: ImportCounts,
  batch: { leads: Map<string, NewLead>; rows: number },
): Promise<void> {
  const ordered = [...batch.leads.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  const suppressed = await suppressedIdentities(
    db,
    target.campaignId,
    ordered.map(([identity, lead]) => ({ email: lead.email, identityHash: identity })),
  );
  const allowed = ordered.filter(([identity]) => !suppressed.has(identity)).map(([, lead]) => lead);
  const enrolled = await db.transaction(async (trx) => {
    const ids = await upsertLeads(trx, allowed, clock.now());
    return enrollLeads(trx, target.campaignId, [...ids.values()], target.firstDelay, clock.now(), target.batchId);
  });
  counts.suppressed += suppressed.size;
  counts.imported += enrolled;
  counts.duplicates += batch.rows - suppressed.size - enrolled;
}

/**
 * Batches of leads written to the database (see {@link writeLeadBatch}). Up to `maxInFlight`
 * batches are written while the next is parsed: memory stays bounded by (maxInFlight + 1) ×
 * batchSize rows, and parsing overlaps the database round trips.
 */
function leadBatches(
  deps: { db: Knex; clock: Clock },
  target: ImportTarget,
  counts: ImportCounts,
  limits: { batchSize: number; maxInFlight: number },
): LeadBatches {
  let pending = new Map<string, NewLead>();
  let pendingRows = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;

  async function flush(): Promise<void> {
    if (pendingRows > 0) {
      const write = writeLeadBatch(deps, target, counts, { leads: pending, rows: pendingRows });
      pending = new Map();
      pendingRows = 0;
      // A failed write is kept (not left as an unhandled rejection) and rethrown below.
      const tracked: Promise<void> = write
        .catch((error: unknown) => {
          failure ??= error instanceof Error ? error : new Error(String(error));
        })
        .finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    while (inFlight.size >= limits.maxInFlight) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
  }

  return {
    add(identity, lead) {
      const earlier = pending.get(identity);
      if (earlier !== undefined) counts.duplicates += 1;
      else pendingRows += 1;
      pending.set(identity, earlier === undefined ? lead : mergeLeads(earlier, lead));
    },
    async flushIfFull() {
      if (pendingRows < limits.batchSize) return false;
      await flush();
      return true;
    },
    async drain() {
      await flush();
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
    },
    async settle() {
      await Promise.all(inFlight);
    },
  };
}

/**
 * The records of a CSV stream, each with the line it starts on (after the previous record and
 * any empty lines skipped since). BOM, quoted newlines and CRLF are handled by csv-parse; a record
 * it cannot read goes to `onUnreadable` with its line, and reading goes on.
 */
async function* csvRecords(
  input: ReturnType<typeof createReadStream>,
  delimiter: string,
  onUnreadable: (line: number, reason: string) => void,
): AsyncGenerator<{ record: string[]; line: number }> {
  const parser = input.pipe(
    parse({
      bom: true,
      delimiter,
      relax_column_count: true,
      // Spreadsheet exports leave quotes inside unquoted cells (=HYPERLINK("…")): keep them as text.
      relax_quotes: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      max_record_size: 1_000_000,
      info: true,
    }),
  );
  let lastLine = 0;
  let lastEmpty = 0;
  parser.on('skip', (error: CsvError) => {
    const line = typeof error.lines === 'number' ? error.lines : lastLine + 1;
    onUnreadable(line, `unreadable CSV: ${error.message.split('\n')[0] ?? error.code}`);
    lastLine = line;
  });
  for await (const parsed of parser as AsyncIterable<ParsedRecord>) {
    const line = lastLine + 1 + (parsed.info.empty_lines - lastEmpty);
    lastLine = parsed.info.lines;
    lastEmpty = parsed.info.empty_lines;
    yield { record: parsed.record, line };
  }
}

/**
 * Plans the columns from the header record, then turns every other record into a lead for
 * `batches`, refusing bad rows with their line; `progress` runs every `progressEvery` batches.
 */
async function addRecords(
  records: AsyncIterable<{ record: string[]; line: number }>,
  options: Pick<ImportOptions, 'columnMap' | 'attribution'>,
  into: { batches: LeadBatches; counts: ImportCounts; refuse: (line: number, reason: string) => void },
  progress: { every: number; report: () => Promise<void> },
): Promise<void> {
  let plan: ColumnPlan | undefined;
  let batchesSinceProgress = 0;
  for await (const { record, line } of records) {
    if (plan === undefined) {
      plan = planColumns(record, options.columnMap);
      continue;
    }
    into.counts.total += 1;
    const result = toNewLead(recordToRow(record, plan), options.attribution);
    if (!result.ok) {
      into.refuse(line, result.reason);
      continue;
    }
    into.batches.add(identityHash(result.lead.email), result.lead);
    if (await into.batches.flushIfFull()) {
      batchesSinceProgress += 1;
      if (batchesSinceProgress >= progress.every) {
        batchesSinceProgress = 0;
        await progress.report();
      }
    }
  }
}

/**
 * Imports a CSV into a campaign, streaming: memory holds one batch of rows, not the file.
 * BOM, `,` `;` or tab delimiters, quoted newlines and CRLF are handled by csv-parse; headers
 * are mapped by known spellings or `--map`, unknown columns become custom fields. Every row
 * is validated; a bad row is reported with its line number and the good rows still land.
 * Leads are deduplicated within the file and across campaigns by identity (one lead per
 * person), enrolled once per campaign, and suppressed addresses are counted and skipped.
 * The same content imported before into the campaign is reported and skipped unless `force`.
 * Every import is an auditable batch with its counts and row errors.
 */
export async function importLeadsCsv(deps: { db: Knex; clock: Clock }, options: ImportOptions): Promise<ImportReport> {
  const { db, clock } = deps;
  const started = await startImport(deps, options);
  if (started.outcome === 'already-imported') return started;
  const { batchId, fileHash } = started;
  const counts: ImportCounts = { total: 0, imported: 0, duplicates: 0, invalid: 0, suppressed: 0 };
  const errors: RowError[] = [];
  const refuse = (line: number, reason: string) => {
    counts.invalid += 1;
    if (errors.length < MAX_STORED_ERRORS) errors.push({ line, reason });
  };
  const maxInFlight = options.concurrency ?? 4;
  const batches = leadBatches(deps, started, counts, { batchSize: options.batchSize ?? 2000, maxInFlight });
  const input = createReadStream(options.path);
  const records = csvRecords(input, await detectDelimiter(options.path), (line, reason) => {
    counts.total += 1;
    refuse(line, reason);
  });
  const report = async () => {
    await updateImportCounts(db, batchId, counts);
    await options.onProgress?.(counts, input.bytesRead);
  };
  try {
    await addRecords(records, options, { batches, counts, refuse }, { every: maxInFlight, report });
    await batches.drain();
    await report();
  } catch (error) {
    input.destroy();
    // Let batches already sent finish (or fail) before the batch is marked FAILED.
    await batches.settle();
    await finishImportBatch(db, batchId, { status: 'FAILED', counts, errors, now: clock.now() });
    throw error;
  }
  await finishImportBatch(db, batchId, { status: 'DONE', counts, errors, now: clock.now() });
  return { outcome: 'imported', batchId, fileHash, ...counts, errors, moreErrors: counts.invalid - errors.length };
}

/** An import of an uploaded file: the upload's id instead of a path. */
export type UploadImportOptions = Omit<ImportOptions, 'path'> & { uploadId: string };

/** What an upload import uses: the pool, the clock and where uploads wait. */
export interface UploadImportDeps {
  db: Knex;
  clock: Clock;
  config: Pick<Config, 'IMPORT_UPLOAD_DIR'>;
}

/**
 * Imports an upload (`POST /api/campaigns/:id/imports`) by its id: the file is resolved inside
 * `IMPORT_UPLOAD_DIR` only, imported, and deleted however the import ends. An id that is not
 * a UUID is refused before any file is opened or deleted.
 * @throws ZodError for an id that is not an upload id; Error when the upload is not there
 *   (never imported, already imported, or swept after a day).
 */
export async function importUpload(deps: UploadImportDeps, options: UploadImportOptions): Promise<ImportReport> {
  const directory = uploadDirectory(deps.config);
  const { uploadId, ...rest } = options;
  const path = uploadPath(directory, uploadId);
  try {
    await access(path);
  } catch {
    throw new Error(`upload ${uploadId} is not in the upload directory (already imported, or removed after a day)`);
  }
  try {
    return await importLeadsCsv(deps, { ...rest, path });
  } finally {
    await removeUpload(directory, uploadId);
  }
}
