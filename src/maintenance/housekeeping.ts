import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import { sweepStaleUploads, uploadDirectory } from '../leads/import-uploads.js';
import { loginThrottle } from '../operators/login-throttle.js';
import { deleteExpiredSessions } from '../operators/session-store.js';
import { deleteWindowsBefore } from '../db/window-counter-store.js';
import { clockMinute } from '../redis/keys.js';

/** How often the chores run, across all workers: at most once an hour. */
export const HOUSEKEEPING_EVERY_MS = 3_600_000;

const HOUSEKEEPING_KEY = 'housekeeping';

/** What one round of chores removed. */
export interface HousekeepingResult {
  /** Upload files older than a day (left by a crashed api process or a job that never ran). */
  staleUploads: number;
  /** Login throttle counters idle for a day. */
  idleLoginThrottles: number;
  /** Admin sessions past their expiry. */
  expiredSessions: number;
  /** Per-minute counters of past minutes (the Postgres queue store's form, throttle and LLM windows). */
  pastCounterWindows: number;
}

/**
 * Takes the hourly slot: true for exactly one caller per hour across every process (a
 * compare-and-set on the `settings` row, so two workers' reconcilers never both run the chores).
 */
async function claimSlot(db: Knex, now: Date): Promise<boolean> {
  const result = await db.raw<{ rows: unknown[] }>(
    `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (:key, '{}'::jsonb, :now, 'reconciler')
     ON CONFLICT (key) DO UPDATE SET updated_at = EXCLUDED.updated_at WHERE settings.updated_at <= :dueBefore
     RETURNING key`,
    { key: HOUSEKEEPING_KEY, now, dueBefore: new Date(now.getTime() - HOUSEKEEPING_EVERY_MS) },
  );
  return result.rows.length === 1;
}

/** What {@link housekeeping} needs. */
export interface HousekeepingDeps {
  db: Knex;
  clock: Clock;
  log: Logger;
  config: Pick<Config, 'IMPORT_UPLOAD_DIR'>;
}

/**
 * The chores that keep the disk and a few tables from growing: stale uploads, idle login
 * counters, expired sessions, past counter windows. The reconcile job calls {@link runIfDue} on every run; the chores
 * themselves run at most once an hour (no queue of their own).
 */
export function housekeeping({ db, clock, log, config }: HousekeepingDeps) {
  const throttle = loginThrottle({ db, clock });
  return {
    /** Runs the chores if an hour has passed since any process last ran them; undefined when not due. */
    async runIfDue(): Promise<HousekeepingResult | undefined> {
      const now = clock.now();
      if (!(await claimSlot(db, now))) return undefined;
      const result: HousekeepingResult = {
        staleUploads: await sweepStaleUploads(uploadDirectory(config), now),
        idleLoginThrottles: await throttle.prune(),
        expiredSessions: await deleteExpiredSessions(db, now),
        pastCounterWindows: await deleteWindowsBefore(db, clockMinute(now)),
      };
      if (result.staleUploads > 0) log.warn({ staleUploads: result.staleUploads }, 'removed upload files older than a day');
      return result;
    },
  };
}

/** The housekeeping built by {@link housekeeping}. */
export type Housekeeping = ReturnType<typeof housekeeping>;
