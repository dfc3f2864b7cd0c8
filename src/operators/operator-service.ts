import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import { systemClock, type Clock } from '../runtime/clock.js';
import { hashPassword, verifyPassword } from './password.js';
import { findOperatorCredentials, insertOperator, recordOperatorLogin, type Operator } from './operator-store.js';

/** Shortest password accepted for a new operator. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest password accepted anywhere; far beyond any real passphrase, it bounds hashing work. */
export const MAX_PASSWORD_LENGTH = 1024;

/** An operator email as stored: trimmed, lower-cased and shaped like an address. */
export const operatorEmailSchema = z.string().trim().toLowerCase().pipe(z.email('a valid email address'));

const newOperatorSchema = z.object({
  email: operatorEmailSchema,
  password: z
    .string()
    .min(MIN_PASSWORD_LENGTH, `at least ${MIN_PASSWORD_LENGTH} characters`)
    .max(MAX_PASSWORD_LENGTH, `at most ${MAX_PASSWORD_LENGTH} characters`),
});

/** Raised when a new operator's email or password is not acceptable; the message says why. */
export class InvalidOperatorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOperatorError';
  }
}

/** Raised when an operator with the same email already exists. */
export class OperatorExistsError extends Error {
  constructor(readonly email: string) {
    super(`an operator with email ${email} already exists`);
    this.name = 'OperatorExistsError';
  }
}

/**
 * Creates an operator who can sign in to the admin UI. The email is trimmed and lower-cased;
 * only a scrypt hash of the password is stored.
 * @throws InvalidOperatorError for a malformed email or a password shorter than 12 characters.
 * @throws OperatorExistsError when the email is taken.
 */
export async function addOperator(db: Knex, email: string, password: string): Promise<Operator> {
  const parsed = newOperatorSchema.safeParse({ email, password });
  // prettifyError names the field and the rule, never the value, so the password is not echoed.
  if (!parsed.success) throw new InvalidOperatorError(z.prettifyError(parsed.error));
  const passwordHash = await hashPassword(parsed.data.password);
  const operator = await insertOperator(db, { email: parsed.data.email, passwordHash });
  if (operator === undefined) throw new OperatorExistsError(parsed.data.email);
  return operator;
}

// Verified against when the email is unknown, so that answer takes as long as a wrong password.
let decoyHash: Promise<string> | undefined;

/**
 * The operator with these credentials, or `undefined` for an unknown email, a wrong password
 * or a disabled operator. Each of those costs one scrypt verification, so response times do
 * not reveal which emails exist. Records the sign-in time on success.
 * @param clock - source of the sign-in time. @defaultValue the system clock
 */
export async function authenticate(db: Knex, email: string, password: string, clock: Clock = systemClock): Promise<Operator | undefined> {
  const normalisedEmail = email.trim().toLowerCase();
  if (password.length > MAX_PASSWORD_LENGTH) return undefined;
  const credentials = await findOperatorCredentials(db, normalisedEmail);
  if (credentials === undefined) {
    decoyHash ??= hashPassword(randomBytes(16).toString('hex'));
    await verifyPassword(password, await decoyHash);
    return undefined;
  }
  const matches = await verifyPassword(password, credentials.passwordHash);
  if (!matches || credentials.operator.disabledAt !== null) return undefined;
  const at = clock.now();
  await recordOperatorLogin(db, credentials.operator.id, at);
  return { ...credentials.operator, lastLoginAt: at };
}
