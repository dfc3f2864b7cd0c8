import type { Knex } from 'knex';

export const IMPORT_BATCHES = 'import_batches';

/** One refused row of an import: its line in the file and why. */
export interface RowError {
  line: number;
  reason: string;
}

export interface ImportCounts {
  total: number;
  imported: number;
  duplicates: number;
  invalid: number;
  suppressed: number;
}

/** An import batch: the audit record of one file imported into one campaign. */
export interface ImportBatch extends ImportCounts {
  id: number;
  campaignId: number;
  fileName: string;
  fileHash: string;
  createdBy: string | null;
  status: 'RUNNING' | 'DONE' | 'FAILED';
  errors: RowError[];
  createdAt: Date;
  finishedAt: Date | null;
}

interface ImportBatchRow extends ImportCounts {
  id: number;
  campaign_id: number;
  file_name: string;
  file_hash: string;
  created_by: string | null;
  status: 'RUNNING' | 'DONE' | 'FAILED';
  errors: RowError[];
  created_at: Date;
  finished_at: Date | null;
}

function rowToImportBatch(row: ImportBatchRow): ImportBatch {
  return { ...rowToImportSummary(row), errors: row.errors };
}

function rowToImportSummary(row: Omit<ImportBatchRow, 'errors'>): Omit<ImportBatch, 'errors'> {
  return {
    id: row.id,
    campaignId: row.campaign_id,
    fileName: row.file_name,
    fileHash: row.file_hash,
    createdBy: row.created_by,
    status: row.status,
    total: row.total,
    imported: row.imported,
    duplicates: row.duplicates,
    invalid: row.invalid,
    suppressed: row.suppressed,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

/** Starts a batch (RUNNING); returns its id. */
export async function insertImportBatch(
  db: Knex,
  batch: { campaignId: number; fileName: string; fileHash: string; createdBy: string | null; now: Date },
): Promise<number> {
  const [row] = (await db(IMPORT_BATCHES)
    .insert({ campaign_id: batch.campaignId, file_name: batch.fileName, file_hash: batch.fileHash, created_by: batch.createdBy, created_at: batch.now })
    .returning('id')) as Array<{ id: number }>;
  if (row === undefined) throw new Error('import batch insert returned no id');
  return row.id;
}

/** A finished import of the same content into the same campaign, if any. */
export async function findDoneImport(db: Knex, campaignId: number, fileHash: string): Promise<ImportBatch | undefined> {
  const row = (await db(IMPORT_BATCHES).where({ campaign_id: campaignId, file_hash: fileHash, status: 'DONE' }).orderBy('id').first()) as
    | ImportBatchRow
    | undefined;
  return row === undefined ? undefined : rowToImportBatch(row);
}

/** Records progress (the counts so far) while a batch runs. */
export async function updateImportCounts(db: Knex, id: number, counts: ImportCounts): Promise<void> {
  await db(IMPORT_BATCHES).where({ id, status: 'RUNNING' }).update({ ...counts });
}

/** Finishes a batch: DONE or FAILED, with its final counts and (capped) row errors. */
export async function finishImportBatch(
  db: Knex,
  id: number,
  outcome: { status: 'DONE' | 'FAILED'; counts: ImportCounts; errors: RowError[]; now: Date },
): Promise<void> {
  await db(IMPORT_BATCHES)
    .where({ id })
    .update({ ...outcome.counts, status: outcome.status, errors: JSON.stringify(outcome.errors), finished_at: outcome.now });
}

export async function findImportBatch(db: Knex, id: number): Promise<ImportBatch | undefined> {
  const row = (await db(IMPORT_BATCHES).where({ id }).first()) as ImportBatchRow | undefined;
  return row === undefined ? undefined : rowToImportBatch(row);
}

/** A campaign's imports, newest first, without their row errors. */
export async function listImportBatches(db: Knex, campaignId: number): Promise<Array<Omit<ImportBatch, 'errors'>>> {
  const rows = (await db(IMPORT_BATCHES)
    .where({ campaign_id: campaignId })
    .orderBy('id', 'desc')
    .select('id', 'campaign_id', 'file_name', 'file_hash', 'created_by', 'status', 'total', 'imported', 'duplicates', 'invalid', 'suppressed', 'created_at', 'finished_at')) as Array<
    Omit<ImportBatchRow, 'errors'>
  >;
  return rows.map(rowToImportSummary);
}

/** The latest imports of every campaign, newest first, without their row errors. */
export async function listRecentImportBatches(db: Knex, limit: number): Promise<Array<Omit<ImportBatch, 'errors'>>> {
  const rows = (await db(IMPORT_BATCHES)
    .orderBy('id', 'desc')
    .limit(limit)
    .select('id', 'campaign_id', 'file_name', 'file_hash', 'created_by', 'status', 'total', 'imported', 'duplicates', 'invalid', 'suppressed', 'created_at', 'finished_at')) as Array<
    Omit<ImportBatchRow, 'errors'>
  >;
  return rows.map(rowToImportSummary);
}
