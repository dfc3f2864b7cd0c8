import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import { deleteExpiredSessions, deleteSession, findLiveSession, insertSession, type OperatorSession } from './session-store.js';

export type { OperatorSession };

/** What {@link sessionService} needs. */
export interface SessionServiceDeps {
  db: Knex;
  clock: Clock;
  /** How long a session lives after sign-in, in milliseconds (`SESSION_TTL`). */
  ttlMs: number;
}

/** What the browser is given at sign-in: the session id for the cookie and its CSRF token. */
export interface StartedSession {
  sessionId: string;
  csrfToken: string;
  expiresAt: Date;
}

// 32 random bytes in base64url; anything else in a cookie is not one of ours and costs no query.
const sessionIdPattern = /^[A-Za-z0-9_-]{43}$/;

function hashSessionId(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex');
}

/**
 * Admin sign-in sessions. Only the SHA-256 of a session id is stored, so a copy of the
 * database does not let anyone act as a signed-in operator; the id is 256 random bits, so an
 * unsalted fast hash is enough. Sessions have a fixed lifetime from sign-in.
 */
export function sessionService({ db, clock, ttlMs }: SessionServiceDeps) {
  return {
    /** Starts a session for an operator who has just authenticated. */
    async start(operatorId: number): Promise<StartedSession> {
      const now = clock.now();
      const sessionId = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now.getTime() + ttlMs);
      // Sign-ins are rare, so this is a cheap moment to forget sessions nobody will present again.
      await deleteExpiredSessions(db, now);
      await insertSession(db, { idHash: hashSessionId(sessionId), operatorId, csrfToken, createdAt: now, expiresAt });
      return { sessionId, csrfToken, expiresAt };
    },

    /** The live session for a cookie value, or `undefined` if it is unknown, expired or its operator is disabled. */
    async resolve(sessionId: string): Promise<OperatorSession | undefined> {
      if (!sessionIdPattern.test(sessionId)) return undefined;
      return findLiveSession(db, hashSessionId(sessionId), clock.now());
    },

    /** Ends a session; ending an unknown one is not an error. */
    async end(sessionId: string): Promise<void> {
      if (!sessionIdPattern.test(sessionId)) return;
      await deleteSession(db, hashSessionId(sessionId));
    },
  };
}

/** The admin session service built by {@link sessionService}. */
export type SessionService = ReturnType<typeof sessionService>;
