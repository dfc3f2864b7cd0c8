import type { Knex } from 'knex';

export const OPERATORS = 'operators';

/** A person who may sign in to the admin UI. The password hash never leaves the store. */
export interface Operator {
  id: number;
  email: string;
  createdAt: Date;
  lastLoginAt: Date | null;
  disabledAt: Date | null;
}

interface OperatorRow {
  id: number;
  email: string;
  password_hash: string;
  created_at: Date;
  last_login_at: Date | null;
  disabled_at: Date | null;
}

function rowToOperator(row: OperatorRow): Operator {
  return {
    id: row.id,
    email: row.email,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
    disabledAt: row.disabled_at,
  };
}

/**
 * Inserts an operator unless one with the same email exists. Returns the new operator, or
 * `undefined` when the email was taken (the unique key decides, so two concurrent inserts
 * cannot both win).
 */
export async function insertOperator(db: Knex, entry: { email: string; passwordHash: string }): Promise<Operator | undefined> {
  const result = await db.raw<{ rows: OperatorRow[] }>(
    `INSERT INTO operators (email, password_hash) VALUES (?, ?)
     ON CONFLICT (email) DO NOTHING
     RETURNING *`,
    [entry.email, entry.passwordHash],
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

/** Records a successful sign-in. */
export async function recordOperatorLogin(db: Knex, id: number, at: Date): Promise<void> {
  await db(OPERATORS).where({ id }).update({ last_login_at: at });
}
