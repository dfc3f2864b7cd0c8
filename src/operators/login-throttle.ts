import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import { blockedUntil, clearAccountAttempt, countAttempt, deleteIdleThrottles, type ThrottleLimits } from './login-throttle-store.js';

/**
 * The sign-in limits: 5 attempts in 15 minutes for one account, or 20 from one client IP,
 * then a back-off of 1 minute that doubles with every further lockout (one attempt is let
 * through after each) up to 1 hour; a key left alone for a day starts from 1 minute again.
 */
export const LOGIN_LIMITS: ThrottleLimits = {
  accountAttempts: 5,
  ipAttempts: 20,
  windowMs: 15 * 60_000,
  backoffMs: 60_000,
  maxBackoffMs: 60 * 60_000,
  forgetAfterMs: 24 * 60 * 60_000,
};

/** Who is signing in: the normalised email typed, and the client IP. */
export interface LoginAttempt {
  account: string;
  ip: string;
}

/** Whether a sign-in attempt may be checked now, or how long its client must wait. */
export type ThrottleDecision = { admitted: true } | { admitted: false; retryAfterSeconds: number };

/** What {@link loginThrottle} needs. */
export interface LoginThrottleDeps {
  db: Knex;
  clock: Clock;
  /** @defaultValue {@link LOGIN_LIMITS} */
  limits?: ThrottleLimits;
}

/**
 * Sign-in throttling per account and per client IP with exponential back-off. The counters
 * live in Postgres (`login_throttles`), so every api process shares them and they survive
 * restarts without Redis. An attempt is counted when it is admitted, before its password is
 * checked, so a burst of concurrent guesses cannot get past the limit; a successful sign-in
 * gives the attempt back. An unknown email is counted like a known one, so the answers do not
 * reveal which accounts exist. Time comes from the injected clock.
 */
export function loginThrottle({ db, clock, limits = LOGIN_LIMITS }: LoginThrottleDeps) {
  async function refusal(attempt: LoginAttempt, now: Date): Promise<ThrottleDecision> {
    const until = await blockedUntil(db, attempt, now);
    const waitMs = until === undefined ? 1000 : until.getTime() - now.getTime();
    return { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  return {
    /** Counts an attempt and admits it, or refuses it while its account or IP is backing off. */
    async admit(attempt: LoginAttempt): Promise<ThrottleDecision> {
      const now = clock.now();
      if ((await blockedUntil(db, attempt, now)) !== undefined) return refusal(attempt, now);
      const counted = await countAttempt(db, attempt, now, limits);
      return counted === 2 ? { admitted: true } : refusal(attempt, now);
    },

    /** The attempt signed in: the account's counter starts again. */
    async succeeded(attempt: LoginAttempt): Promise<void> {
      await clearAccountAttempt(db, attempt);
    },

    /** Forgets counters idle for longer than the back-off memory; returns how many. */
    async prune(): Promise<number> {
      const now = clock.now();
      return deleteIdleThrottles(db, new Date(now.getTime() - limits.forgetAfterMs), now);
    },
  };
}

/** The login throttle built by {@link loginThrottle}. */
export type LoginThrottle = ReturnType<typeof loginThrottle>;
