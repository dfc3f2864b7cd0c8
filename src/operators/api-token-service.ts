import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import { systemClock, type Clock } from '../runtime/clock.js';
import { findUsableApiToken, insertApiToken, revokeApiTokenRow, touchApiToken, type ApiToken } from './api-token-store.js';
import { findOperatorByEmail } from './operator-store.js';
import { operatorEmailSchema } from './operator-service.js';

export type { ApiToken };

/** Every token starts with this, so a leaked one is recognisable (and greppable in secret scanners). */
export const API_TOKEN_PREFIX = 'dbt_';

/** `last_used_at` is written at most this often per token, so busy clients do not write on every request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

const tokenPattern = /^dbt_[A-Za-z0-9_-]{43}$/;
const tokenNameSchema = z.string().trim().min(1, 'a name is required').max(200, 'at most 200 characters');

/** Raised when an API token would belong to an operator that does not exist. */
export class UnknownOperatorError extends Error {
  constructor(readonly email: string) {
    super(`no operator has email ${email}`);
    this.name = 'UnknownOperatorError';
  }
}

/** A token just created: `token` is the only copy of the secret and cannot be shown again. */
export interface CreatedApiToken {
  id: number;
  name: string;
  token: string;
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Creates an API token (`dbt_` + 32 random bytes in base64url) and stores only its SHA-256;
 * the token carries 256 random bits, so a fast unsalted hash cannot be brute-forced.
 * @param operatorEmail - the operator the token belongs to; disabling them disables the token.
 *   @defaultValue none: the token belongs to the installation
 * @param clock - source of `created_at`. @defaultValue the system clock
 * @throws ZodError for an empty name or a malformed email.
 * @throws UnknownOperatorError when no operator has `operatorEmail`.
 */
export async function createApiToken(db: Knex, name: string, operatorEmail?: string, clock: Clock = systemClock): Promise<CreatedApiToken> {
  const tokenName = tokenNameSchema.parse(name);
  let operatorId: number | null = null;
  if (operatorEmail !== undefined) {
    const email = operatorEmailSchema.parse(operatorEmail);
    const operator = await findOperatorByEmail(db, email);
    if (operator === undefined) throw new UnknownOperatorError(email);
    operatorId = operator.id;
  }
  const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const stored = await insertApiToken(db, { name: tokenName, tokenHash: hashToken(token), operatorId, createdAt: clock.now() });
  return { id: stored.id, name: stored.name, token };
}

/**
 * The stored token matching a presented one, or `undefined` when it is malformed, unknown,
 * revoked or owned by a disabled operator. Records the use, at most once a minute per token.
 * @param clock - source of `last_used_at`. @defaultValue the system clock
 */
export async function verifyApiToken(db: Knex, token: string, clock: Clock = systemClock): Promise<ApiToken | undefined> {
  if (!tokenPattern.test(token)) return undefined;
  const stored = await findUsableApiToken(db, hashToken(token));
  if (stored === undefined) return undefined;
  const now = clock.now();
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
