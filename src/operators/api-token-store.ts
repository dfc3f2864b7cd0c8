import type { Knex } from 'knex';

export const API_TOKENS = 'api_tokens';

/** A bearer token for `/api`. Only the SHA-256 of the token is stored; the token itself is shown once. */
export interface ApiToken {
  id: number;
  name: string;
  operatorId: number | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface ApiTokenRow {
  id: number;
  name: string;
  token_hash: string;
  operator_id: number | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function rowToApiToken(row: ApiTokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    operatorId: row.operator_id,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** Stores a new token by its hash and returns it. */
export async function insertApiToken(
  db: Knex,
  entry: { name: string; tokenHash: string; operatorId: number | null; createdAt: Date },
): Promise<ApiToken> {
  const [row] = (await db(API_TOKENS)
    .insert({ name: entry.name, token_hash: entry.tokenHash, operator_id: entry.operatorId, created_at: entry.createdAt })
    .returning('*')) as ApiTokenRow[];
  if (row === undefined) throw new Error('inserting an api token returned no row');
  return rowToApiToken(row);
}

/**
 * The token with this hash if it may be used: not revoked, and not owned by a disabled
 * operator (a token without an owner belongs to the installation).
 */
export async function findUsableApiToken(db: Knex, tokenHash: string): Promise<ApiToken | undefined> {
  const result = await db.raw<{ rows: ApiTokenRow[] }>(
    `SELECT t.*
       FROM api_tokens t
       LEFT JOIN operators o ON o.id = t.operator_id
      WHERE t.token_hash = ? AND t.revoked_at IS NULL AND o.disabled_at IS NULL`,
    [tokenHash],
  );
  const row = result.rows[0];
  return row === undefined ? undefined : rowToApiToken(row);
}

/**
 * Sets `last_used_at` to `now` unless it is already later than `staleBefore`. The condition is
 * in the UPDATE so concurrent requests with one token write the row at most once per interval.
 * Returns whether the row was written.
 */
export async function touchApiToken(db: Knex, id: number, now: Date, staleBefore: Date): Promise<boolean> {
  const updated = await db(API_TOKENS)
    .where({ id })
    .whereRaw('(last_used_at IS NULL OR last_used_at < ?)', [staleBefore])
    .update({ last_used_at: now });
  return updated === 1;
}

/** Revokes a token; returns whether it was live before. */
export async function revokeApiTokenRow(db: Knex, id: number, at: Date): Promise<boolean> {
  const updated = await db(API_TOKENS).where({ id }).whereNull('revoked_at').update({ revoked_at: at });
  return updated === 1;
}
