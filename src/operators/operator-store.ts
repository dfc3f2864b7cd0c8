import type { Knex } from 'knex';
import type { Role } from './roles.js';

export const OPERATORS = 'operators';

/** A person who may sign in to the admin UI. The password hash never leaves the store. */
export interface Operator {
  id: number;
  email: string;
  role: Role;
  createdAt: Date;
  lastLoginAt: Date | null;
  disabledAt: Date | null;
}

interface OperatorRow {
  id: number;
  email: string;
  role: Role;
  password_hash: string;
  created_at: Date;
  last_login_at: Date | null;
  disabled_at: Date | null;
}

function rowToOperator(row: OperatorRow): Operator {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
    disabledAt: row.disabled_at,
  };
}

/**
 * Inserts an operator unless one with the same email exists. Returns the new operator, or
 * `undefined` when the email was taken (the unique key decides, so two concurrent inserts
 * cannot both win). Without a role, the first operator ever becomes `admin` and any later
 * one `fallbackRole`, decided in the same statement.
 */
export async function insertOperator(
  db: Knex,
  entry: { email: string; passwordHash: string; role: Role | undefined; fallbackRole: Role; createdAt: Date },
): Promise<Operator | undefined> {
  const result = await db.raw<{ rows: OperatorRow[] }>(
    `INSERT INTO operators (email, password_hash, role, created_at)
     SELECT ?, ?, COALESCE(?::text, CASE WHEN EXISTS (SELECT 1 FROM operators) THEN ?::text ELSE 'admin' END), ?
     ON CONFLICT (email) DO NOTHING
     RETURNING *`,
    [entry.email, entry.passwordHash, entry.role ?? null, entry.fallbackRole, entry.createdAt],
  );
  const row = result.rows[0];
  return row === undefined ? undefined : rowToOperator(row);
}

/** The operator with this (already normalised) email and its password hash, for sign-in. */
export async function findOperatorCredentials(
  db: Knex,
  email: string,
): Promise<{ operator: Operator; passwordHash: string } | undefined> {
  const row = (await db(OPERATORS).where({ email }).first()) as OperatorRow | undefined;
  return row === undefined ? undefined : { operator: rowToOperator(row), passwordHash: row.password_hash };
}

/** The operator with this (already normalised) email. */
export async function findOperatorByEmail(db: Knex, email: string): Promise<Operator | undefined> {
  return (await findOperatorCredentials(db, email))?.operator;
}

/** The operator with this id. */
export async function findOperatorById(db: Knex, id: number): Promise<Operator | undefined> {
  const row = (await db(OPERATORS).where({ id }).first()) as OperatorRow | undefined;
  return row === undefined ? undefined : rowToOperator(row);
}

/** Every operator, oldest first. */
export async function listOperatorRows(db: Knex): Promise<Operator[]> {
  const rows = (await db(OPERATORS).orderBy('id')) as OperatorRow[];
  return rows.map(rowToOperator);
}

/** Records a successful sign-in. */
export async function recordOperatorLogin(db: Knex, id: number, at: Date): Promise<void> {
  await db(OPERATORS).where({ id }).update({ last_login_at: at });
}

/**
 * Disables (`at` is a time) or enables (`at` is null) an operator, compare-and-set: returns the
 * operator when this call changed it, `undefined` when it already was in that state or does not exist.
 */
export async function setOperatorDisabled(db: Knex, id: number, at: Date | null): Promise<Operator | undefined> {
  const query = db(OPERATORS).where({ id });
  if (at === null) query.whereNotNull('disabled_at');
  else query.whereNull('disabled_at');
  const [row] = (await query.update({ disabled_at: at }).returning('*')) as OperatorRow[];
  return row === undefined ? undefined : rowToOperator(row);
}
