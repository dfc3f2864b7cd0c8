import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import { systemClock, type Clock } from '../core/clock.js';
import { hashPassword, verifyPassword } from './password.js';
import {
  findOperatorByEmail,
  findOperatorById,
  findOperatorCredentials,
  insertOperator,
  listOperatorRows,
  recordOperatorLogin,
  setOperatorDisabled,
  type Operator,
} from './operator-store.js';
import { deleteSessionsOf } from './session-store.js';
import { DEFAULT_OPERATOR_ROLE, ROLES } from './roles.js';
import { DomainError } from '../core/domain-error.js';

export type { Operator };

/** Shortest password accepted for a new operator. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest password accepted anywhere; far beyond any real passphrase, it bounds hashing work. */
export const MAX_PASSWORD_LENGTH = 1024;

/** An operator email as stored: trimmed, lower-cased and shaped like an address. */
export const operatorEmailSchema = z.string().trim().toLowerCase().pipe(z.email('a valid email address'));

/**
 * A role as given on the command line or in an API body. Here, not in roles.ts, so the role
 * names stay free of zod (the CLI reads them to describe `--role` before any command runs).
 */
const roleSchema = z.enum(ROLES, { error: `a role: ${ROLES.join(', ')}` });

const newOperatorSchema = z.object({
  email: operatorEmailSchema,
  password: z
    .string()
    .min(MIN_PASSWORD_LENGTH, `at least ${MIN_PASSWORD_LENGTH} characters`)
    .max(MAX_PASSWORD_LENGTH, `at most ${MAX_PASSWORD_LENGTH} characters`),
  role: roleSchema.optional(),
});

/** Raised when a new operator's email or password is not acceptable; the message says why. */
export class InvalidOperatorError extends DomainError {
  constructor(message: string) {
    super(message, 'invalid');
  }
}

/** Raised when an operator with the same email already exists. */
export class OperatorExistsError extends DomainError {
  constructor(readonly email: string) {
    super(`an operator with email ${email} already exists`, 'conflict');
  }
}

/** Raised when no operator has the email or id an operator command names. */
export class OperatorNotFoundError extends DomainError {
  constructor(readonly reference: string) {
    super(`no operator ${reference}`, 'not-found');
  }
}

/** Options of {@link addOperator}. */
export interface NewOperatorOptions {
  /** One of `ROLES` (checked). @defaultValue `admin` for the first operator ever, `operator` after that */
  role?: string;
  /** Source of `created_at`. @defaultValue the system clock */
  clock?: Clock;
}

/**
 * Creates an operator who can sign in to the admin UI. The email is trimmed and lower-cased;
 * only a scrypt hash of the password is stored.
 * @throws InvalidOperatorError for a malformed email, a password shorter than 12 characters or an unknown role.
 * @throws OperatorExistsError when the email is taken.
 */
export async function addOperator(db: Knex, email: string, password: string, options: NewOperatorOptions = {}): Promise<Operator> {
  const parsed = newOperatorSchema.safeParse({ email, password, role: options.role });
  // prettifyError names the field and the rule, never the value, so the password is not echoed.
  if (!parsed.success) throw new InvalidOperatorError(z.prettifyError(parsed.error));
  const passwordHash = await hashPassword(parsed.data.password);
  const operator = await insertOperator(db, {
    email: parsed.data.email,
    passwordHash,
    role: parsed.data.role,
    fallbackRole: DEFAULT_OPERATOR_ROLE,
    createdAt: (options.clock ?? systemClock).now(),
  });
  if (operator === undefined) throw new OperatorExistsError(parsed.data.email);
  return operator;
}

/** Every operator (never a password hash), oldest first. */
export function listOperators(db: Knex): Promise<Operator[]> {
  return listOperatorRows(db);
}

/**
 * The operator an email or a numeric id names.
 * @throws OperatorNotFoundError when there is none.
 */
export async function requireOperator(db: Knex, reference: string | number): Promise<Operator> {
  const operator =
    typeof reference === 'number' ? await findOperatorById(db, reference) : await findOperatorByEmail(db, reference.trim().toLowerCase());
  if (operator === undefined) throw new OperatorNotFoundError(typeof reference === 'number' ? `with id ${reference}` : `with email ${reference}`);
  return operator;
}

/**
 * Disables an operator: they cannot sign in, their sessions end now, and their API tokens are
 * refused (until they are enabled again). Returns the operator and whether this call changed it.
 * @param clock - source of `disabled_at`. @defaultValue the system clock
 * @throws OperatorNotFoundError when no operator has that email or id.
 */
export async function disableOperator(db: Knex, reference: string | number, clock: Clock = systemClock): Promise<{ operator: Operator; changed: boolean }> {
  const operator = await requireOperator(db, reference);
  return db.transaction(async (trx) => {
    const changed = await setOperatorDisabled(trx, operator.id, clock.now());
    // Sessions are refused for a disabled operator anyway; deleting them makes "signed out" literal.
    await deleteSessionsOf(trx, operator.id);
    return { operator: changed ?? operator, changed: changed !== undefined };
  });
}

/**
 * Enables a disabled operator again: they can sign in, and their tokens that are neither
 * revoked nor expired work again. Returns the operator and whether this call changed it.
 * @throws OperatorNotFoundError when no operator has that email or id.
 */
export async function enableOperator(db: Knex, reference: string | number): Promise<{ operator: Operator; changed: boolean }> {
  const operator = await requireOperator(db, reference);
  const changed = await setOperatorDisabled(db, operator.id, null);
  return { operator: changed ?? operator, changed: changed !== undefined };
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
