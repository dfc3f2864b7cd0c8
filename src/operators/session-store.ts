import type { Knex } from 'knex';
import type { Role } from './roles.js';

export const OPERATOR_SESSIONS = 'operator_sessions';

/** A live admin session joined with its operator. */
export interface OperatorSession {
  operatorId: number;
  email: string;
  /** The operator's role, read with the session on every request (a change applies at once). */
  role: Role;
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
}

interface LiveSessionRow {
  operator_id: number;
  email: string;
  role: Role;
  csrf_token: string;
  created_at: Date;
  expires_at: Date;
}

function rowToOperatorSession(row: LiveSessionRow): OperatorSession {
  return {
    operatorId: row.operator_id,
    email: row.email,
    role: row.role,
    csrfToken: row.csrf_token,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** Stores a session under the hash of its id; the id itself is only ever in the cookie. */
export async function insertSession(
  db: Knex,
  entry: { idHash: string; operatorId: number; csrfToken: string; createdAt: Date; expiresAt: Date },
): Promise<void> {
  await db(OPERATOR_SESSIONS).insert({
    id_hash: entry.idHash,
    operator_id: entry.operatorId,
    csrf_token: entry.csrfToken,
    created_at: entry.createdAt,
    expires_at: entry.expiresAt,
  });
}

/** The session with this id hash if it has not expired at `now` and its operator is not disabled. */
export async function findLiveSession(db: Knex, idHash: string, now: Date): Promise<OperatorSession | undefined> {
  const result = await db.raw<{ rows: LiveSessionRow[] }>(
    `SELECT s.operator_id, o.email, o.role, s.csrf_token, s.created_at, s.expires_at
       FROM operator_sessions s
       JOIN operators o ON o.id = s.operator_id
      WHERE s.id_hash = ? AND s.expires_at > ? AND o.disabled_at IS NULL`,
    [idHash, now],
  );
  const row = result.rows[0];
  return row === undefined ? undefined : rowToOperatorSession(row);
}

/** Removes one session (sign-out); a missing one is not an error. */
export async function deleteSession(db: Knex, idHash: string): Promise<void> {
  await db(OPERATOR_SESSIONS).where({ id_hash: idHash }).delete();
}

/** Removes sessions that expired before `now`; returns how many. */
export async function deleteExpiredSessions(db: Knex, now: Date): Promise<number> {
  return db(OPERATOR_SESSIONS).where('expires_at', '<=', now).delete();
}

/** Ends every session of an operator (when they are disabled); returns how many. */
export async function deleteSessionsOf(db: Knex, operatorId: number): Promise<number> {
  return db(OPERATOR_SESSIONS).where({ operator_id: operatorId }).delete();
}
