import type { Knex } from 'knex';
import { OWNERLESS_TOKEN_ROLE, type Role } from './roles.js';

export const API_TOKENS = 'api_tokens';

/** A bearer token for `/api`. Only the SHA-256 of the token is stored; the token itself is shown once. */
export interface ApiToken {
  id: number;
  name: string;
  operatorId: number | null;
  /** The owner's email; null for a token of the installation. */
  operatorEmail: string | null;
  /** What the token may do: its owner's role, or {@link OWNERLESS_TOKEN_ROLE} without an owner. */
  role: Role;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** Null: never expires. */
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** When the owner was disabled (the token is refused meanwhile); null when enabled or ownerless. */
  ownerDisabledAt: Date | null;
}

interface ApiTokenRow {
  id: number;
  name: string;
  operator_id: number | null;
  operator_email: string | null;
  operator_role: Role | null;
  operator_disabled_at: Date | null;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}

function rowToApiToken(row: ApiTokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    operatorId: row.operator_id,
    operatorEmail: row.operator_email,
    role: row.operator_role ?? OWNERLESS_TOKEN_ROLE,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    ownerDisabledAt: row.operator_disabled_at,
  };
}

/** A token with its owner's email, role and state (never the hash). */
const tokenWithOwner = `
  SELECT t.id, t.name, t.operator_id, t.created_at, t.last_used_at, t.expires_at, t.revoked_at,
         o.email AS operator_email, o.role AS operator_role, o.disabled_at AS operator_disabled_at
    FROM api_tokens t
    LEFT JOIN operators o ON o.id = t.operator_id`;

/** Stores a new token by its hash and returns it. */
export async function insertApiToken(
  db: Knex,
  entry: { name: string; tokenHash: string; operatorId: number | null; createdAt: Date; expiresAt: Date | null },
): Promise<ApiToken> {
  const [inserted] = (await db(API_TOKENS)
    .insert({ name: entry.name, token_hash: entry.tokenHash, operator_id: entry.operatorId, created_at: entry.createdAt, expires_at: entry.expiresAt })
    .returning('id')) as Array<{ id: number }>;
  if (inserted === undefined) throw new Error('inserting an api token returned no row');
  const token = await findApiTokenById(db, inserted.id);
  if (token === undefined) throw new Error('an api token vanished right after it was inserted');
  return token;
}

/**
 * The token with this hash if it may be used at `now`: not revoked, not expired, and not owned
 * by a disabled operator (a token without an owner belongs to the installation). Expiry is
 * compared with the caller's clock, not the database's.
 */
export async function findUsableApiToken(db: Knex, tokenHash: string, now: Date): Promise<ApiToken | undefined> {
  const result = await db.raw<{ rows: ApiTokenRow[] }>(
    `${tokenWithOwner}
      WHERE t.token_hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?) AND o.disabled_at IS NULL`,
    [tokenHash, now],
  );
  const row = result.rows[0];
  return row === undefined ? undefined : rowToApiToken(row);
}

/** The token with this id, in any state. */
export async function findApiTokenById(db: Knex, id: number): Promise<ApiToken | undefined> {
  const result = await db.raw<{ rows: ApiTokenRow[] }>(`${tokenWithOwner} WHERE t.id = ?`, [id]);
  const row = result.rows[0];
  return row === undefined ? undefined : rowToApiToken(row);
}

/** The tokens with this exact name that are not revoked. */
export async function findUnrevokedApiTokensByName(db: Knex, name: string): Promise<ApiToken[]> {
  const result = await db.raw<{ rows: ApiTokenRow[] }>(`${tokenWithOwner} WHERE t.name = ? AND t.revoked_at IS NULL ORDER BY t.id`, [name]);
  return result.rows.map(rowToApiToken);
}

/** Every token, oldest first, with its owner. */
export async function listApiTokenRows(db: Knex): Promise<ApiToken[]> {
  const result = await db.raw<{ rows: ApiTokenRow[] }>(`${tokenWithOwner} ORDER BY t.id`);
  return result.rows.map(rowToApiToken);
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
