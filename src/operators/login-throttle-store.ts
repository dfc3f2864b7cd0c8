import type { Knex } from 'knex';

export const LOGIN_THROTTLES = 'login_throttles';

/** What a throttle counts: sign-in attempts for one account (email), or from one client IP. */
export type ThrottleKind = 'account' | 'ip';

/** The numbers of one counting rule, in milliseconds where they are durations. */
export interface ThrottleLimits {
  /** Attempts per window that trigger a back-off, per account. */
  accountAttempts: number;
  /** Attempts per window that trigger a back-off, per client IP. */
  ipAttempts: number;
  /** The counting window, from its first attempt. */
  windowMs: number;
  /** The first back-off; each one after it doubles. */
  backoffMs: number;
  /** The longest back-off. */
  maxBackoffMs: number;
  /** A key without an attempt for this long starts again from the first back-off. */
  forgetAfterMs: number;
}

/** The latest `blocked_until` after `now` among these keys, if any is blocked. */
export async function blockedUntil(db: Knex, keys: { account: string; ip: string }, now: Date): Promise<Date | undefined> {
  const result = await db.raw<{ rows: Array<{ until: Date | null }> }>(
    `SELECT max(blocked_until) AS until FROM login_throttles
      WHERE ((kind = 'account' AND key = :account) OR (kind = 'ip' AND key = :ip)) AND blocked_until > :now`,
    { account: keys.account, ip: keys.ip, now },
  );
  return result.rows[0]?.until ?? undefined;
}

/**
 * Counts one attempt for the account and for the IP, in one statement (each row is locked while
 * it is computed, so concurrent attempts from any process are all counted). In a window that
 * started less than `windowMs` ago the count grows, else it starts again at 1; the attempt that
 * reaches the limit sets `blocked_until` to now plus the back-off for the key's number of
 * lockouts (doubling, capped), so every attempt after it waits. A key that is blocked is left
 * alone and not returned: fewer rows than keys means the attempt lost a race with a block.
 */
export async function countAttempt(db: Knex, keys: { account: string; ip: string }, now: Date, limits: ThrottleLimits): Promise<number> {
  const limit = `(CASE t.kind WHEN 'account' THEN :accountAttempts::int ELSE :ipAttempts::int END)`;
  const fresh = `(t.window_started_at <= :windowStart)`;
  const attempts = `(CASE WHEN ${fresh} THEN 1 ELSE t.failures + 1 END)`;
  const lockouts = `(CASE WHEN t.last_failure_at <= :forgetBefore THEN 0 ELSE t.lockouts END)`;
  const backoff = (level: string) => `(:now::timestamptz + LEAST(:backoffMs::float8 * power(2, LEAST(${level}, 30)), :maxBackoffMs::float8) * interval '1 millisecond')`;
  const result = await db.raw<{ rows: Array<{ kind: ThrottleKind }> }>(
    `INSERT INTO login_throttles AS t (kind, key, failures, window_started_at, last_failure_at, lockouts, blocked_until)
     SELECT a.kind, a.key, 1, :now, :now,
            CASE WHEN a.attempts_limit <= 1 THEN 1 ELSE 0 END,
            CASE WHEN a.attempts_limit <= 1 THEN ${backoff('0')} END
       FROM (VALUES ('account', :account, :accountAttempts::int), ('ip', :ip, :ipAttempts::int)) AS a (kind, key, attempts_limit)
     ON CONFLICT (kind, key) DO UPDATE SET
       failures = ${attempts},
       window_started_at = CASE WHEN ${fresh} THEN :now ELSE t.window_started_at END,
       last_failure_at = :now,
       lockouts = ${lockouts} + CASE WHEN ${attempts} >= ${limit} THEN 1 ELSE 0 END,
       blocked_until = CASE WHEN ${attempts} >= ${limit} THEN ${backoff(lockouts)} END
     WHERE t.blocked_until IS NULL OR t.blocked_until <= :now
     RETURNING t.kind`,
    {
      account: keys.account,
      ip: keys.ip,
      now,
      windowStart: new Date(now.getTime() - limits.windowMs),
      forgetBefore: new Date(now.getTime() - limits.forgetAfterMs),
      accountAttempts: limits.accountAttempts,
      ipAttempts: limits.ipAttempts,
      backoffMs: limits.backoffMs,
      maxBackoffMs: limits.maxBackoffMs,
    },
  );
  return result.rows.length;
}

/**
 * After a successful sign-in: the account starts from nothing, and the IP gets back the attempt
 * counted for it (a shared office address is not blocked by people who sign in; a block it
 * already earned stays).
 */
export async function clearAccountAttempt(db: Knex, keys: { account: string; ip: string }): Promise<void> {
  await db.raw(
    `WITH cleared AS (DELETE FROM login_throttles WHERE kind = 'account' AND key = :account)
     UPDATE login_throttles SET failures = GREATEST(failures - 1, 0) WHERE kind = 'ip' AND key = :ip`,
    { account: keys.account, ip: keys.ip },
  );
}

/** Removes counters with no attempt since `before` and no block still running; returns how many. */
export async function deleteIdleThrottles(db: Knex, before: Date, now: Date): Promise<number> {
  return db(LOGIN_THROTTLES)
    .where('last_failure_at', '<', before)
    .whereRaw('(blocked_until IS NULL OR blocked_until <= ?)', [now])
    .delete();
}
