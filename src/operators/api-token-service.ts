import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import { parseDuration } from '../config/duration.js';
import { systemClock, type Clock } from '../core/clock.js';
import {
  findApiTokenById,
  findUnrevokedApiTokensByName,
  findUsableApiToken,
  insertApiToken,
  listApiTokenRows,
  revokeApiTokenRow,
  touchApiToken,
  type ApiToken,
} from './api-token-store.js';
import { findOperatorByEmail } from './operator-store.js';
import { operatorEmailSchema } from './operator-service.js';
import { DomainError } from '../core/domain-error.js';

export type { ApiToken };

/** Every token starts with this, so a leaked one is recognisable (and greppable in secret scanners). */
export const API_TOKEN_PREFIX = 'dbt_';

/** `last_used_at` is written at most this often per token, so busy clients do not write on every request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** How long a new token lives unless told otherwise: 90 days. */
export const DEFAULT_TOKEN_LIFETIME_MS = 90 * 86_400_000;

const tokenPattern = /^dbt_[A-Za-z0-9_-]{43}$/;
const tokenNameSchema = z.string().trim().min(1, 'a name is required').max(200, 'at most 200 characters');

/**
 * A token lifetime as people write it: a duration (`90d`, `12h`, `1w`) or `never`; parsed to
 * milliseconds, or null for never.
 */
export const tokenLifetimeSchema = z
  .string()
  .trim()
  .transform((text, context) => {
    if (text.toLowerCase() === 'never') return null;
    const ms = parseDuration(text);
    if (ms === undefined || ms < 60_000) {
      context.addIssue({ code: 'custom', message: 'a lifetime such as 90d, 12h or 1w (at least a minute), or never' });
      return z.NEVER;
    }
    return ms;
  });

/** Where a token stands at a given time; only `live` tokens are accepted. */
export type ApiTokenStatus = 'live' | 'expired' | 'revoked' | 'owner-disabled';

/** A token as listed: its record and its status now (never the token or its hash). */
export interface ListedApiToken extends ApiToken {
  status: ApiTokenStatus;
}

/** Raised when a token reference names no token, or a name names more than one live token. */
export class ApiTokenReferenceError extends DomainError {
  constructor(kind: 'not-found' | 'ambiguous', message: string) {
    super(message, kind === 'not-found' ? 'not-found' : 'invalid');
  }
}

/** Raised when an API token would belong to an operator that does not exist. */
export class UnknownOperatorError extends DomainError {
  constructor(readonly email: string) {
    super(`no operator has email ${email}`, 'invalid');
  }
}

/** A token just created: `token` is the only copy of the secret and cannot be shown again. */
export interface CreatedApiToken {
  id: number;
  name: string;
  token: string;
  /** Null: never expires. */
  expiresAt: Date | null;
  /** What the token may do (its owner's role, or `operator` without an owner). */
  role: ApiToken['role'];
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Creates an API token (`dbt_` + 32 random bytes in base64url) and stores only its SHA-256;
 * the token carries 256 random bits, so a fast unsalted hash cannot be brute-forced.
 * @param operatorEmail - the operator the token belongs to; disabling them disables the token.
 *   @defaultValue none: the token belongs to the installation
 * @param clock - source of `created_at` and the expiry. @defaultValue the system clock
 * @param lifetimeMs - how long the token is accepted; null never expires. @defaultValue {@link DEFAULT_TOKEN_LIFETIME_MS}
 * @throws ZodError for an empty name or a malformed email.
 * @throws UnknownOperatorError when no operator has `operatorEmail`.
 */
export async function createApiToken(
  db: Knex,
  name: string,
  operatorEmail?: string,
  clock: Clock = systemClock,
  lifetimeMs: number | null = DEFAULT_TOKEN_LIFETIME_MS,
): Promise<CreatedApiToken> {
  const tokenName = tokenNameSchema.parse(name);
  let operatorId: number | null = null;
  if (operatorEmail !== undefined) {
    const email = operatorEmailSchema.parse(operatorEmail);
    const operator = await findOperatorByEmail(db, email);
    if (operator === undefined) throw new UnknownOperatorError(email);
    operatorId = operator.id;
  }
  const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const createdAt = clock.now();
  const expiresAt = lifetimeMs === null ? null : new Date(createdAt.getTime() + lifetimeMs);
  const stored = await insertApiToken(db, { name: tokenName, tokenHash: hashToken(token), operatorId, createdAt, expiresAt });
  return { id: stored.id, name: stored.name, token, expiresAt: stored.expiresAt, role: stored.role };
}

/**
 * The stored token matching a presented one, or `undefined` when it is malformed, unknown,
 * revoked, expired or owned by a disabled operator. Records the use, at most once a minute per token.
 * @param clock - decides expiry, and is the source of `last_used_at`. @defaultValue the system clock
 */
export async function verifyApiToken(db: Knex, token: string, clock: Clock = systemClock): Promise<ApiToken | undefined> {
  if (!tokenPattern.test(token)) return undefined;
  const now = clock.now();
  const stored = await findUsableApiToken(db, hashToken(token), now);
  if (stored === undefined) return undefined;
  const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
  if (stored.lastUsedAt === null || stored.lastUsedAt < staleBefore) {
    const touched = await touchApiToken(db, stored.id, now, staleBefore);
    if (touched) return { ...stored, lastUsedAt: now };
  }
  return stored;
}

/**
 * Revokes a token so it is refused from now on; returns whether it was live.
 * @param clock - source of `revoked_at`. @defaultValue the system clock
 */
export async function revokeApiToken(db: Knex, id: number, clock: Clock = systemClock): Promise<boolean> {
  return revokeApiTokenRow(db, id, clock.now());
}

/** Where a token stands at `now`. */
export function apiTokenStatus(token: ApiToken, now: Date): ApiTokenStatus {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && token.expiresAt <= now) return 'expired';
  if (token.ownerDisabledAt !== null) return 'owner-disabled';
  return 'live';
}

/**
 * Every token with its owner, role and status at the clock's now; never the token or its hash.
 * @param clock - decides which tokens are expired. @defaultValue the system clock
 */
export async function listApiTokens(db: Knex, clock: Clock = systemClock): Promise<ListedApiToken[]> {
  const now = clock.now();
  return (await listApiTokenRows(db)).map((token) => ({ ...token, status: apiTokenStatus(token, now) }));
}

/**
 * Revokes the token a reference names: digits are an id, anything else the name of exactly one
 * token that is not revoked yet. Returns the token and whether this call revoked it.
 * @param clock - source of `revoked_at`. @defaultValue the system clock
 * @throws ApiTokenReferenceError when nothing matches, or the name is shared by several live tokens.
 */
export async function revokeApiTokenByReference(
  db: Knex,
  reference: string | number,
  clock: Clock = systemClock,
): Promise<{ token: ApiToken; changed: boolean }> {
  const text = String(reference).trim();
  let token: ApiToken | undefined;
  if (/^\d{1,15}$/.test(text)) {
    token = await findApiTokenById(db, Number(text));
    if (token === undefined) throw new ApiTokenReferenceError('not-found', `no API token has id ${text}`);
  } else {
    const named = await findUnrevokedApiTokensByName(db, text);
    if (named.length === 0) throw new ApiTokenReferenceError('not-found', `no unrevoked API token is named "${text}"`);
    if (named.length > 1) {
      throw new ApiTokenReferenceError('ambiguous', `${named.length} API tokens are named "${text}" (ids ${named.map((entry) => entry.id).join(', ')}); revoke one by id`);
    }
    token = named[0];
  }
  if (token === undefined) throw new ApiTokenReferenceError('not-found', `no API token ${text}`);
  const changed = await revokeApiToken(db, token.id, clock);
  return { token: (await findApiTokenById(db, token.id)) ?? token, changed };
}
