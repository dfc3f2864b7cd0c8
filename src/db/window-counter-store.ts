import type { Knex } from 'knex';

/**
 * Fixed-window counters in Postgres (`window_counters`, UNLOGGED), shared by every process: the
 * Postgres twin of the per-minute Redis counters in `src/redis/keys.ts`, for
 * `QUEUE_BACKEND=postgres`. One row per counter name holds its current window (a clock minute),
 * its hits and an amount (the LLM's tokens); a hit in a later window starts the row again. Every
 * change is one statement on the row (`INSERT … ON CONFLICT DO UPDATE`), so concurrent processes
 * never overrun a limit, as with the Redis scripts.
 */
export const WINDOW_COUNTERS = 'window_counters';

/** The counter names, one place for their layout (the Redis keys' twins, without a prefix: the database is the deployment). */
export const windowCounterNames = {
  /** Form submissions from one client IP. */
  formRate: (ip: string) => `form-rate:${ip}`,
  /** Emails to one recipient domain (lower-cased). */
  domainThrottle: (domain: string) => `throttle:domain:${domain.toLowerCase()}`,
  /** The LLM's requests (hits) and tokens (amount). */
  llmBudget: () => 'llm:budget',
} as const;

/** Counts one hit in `window` and returns the window's hits, this one included. */
export async function countHit(db: Knex, name: string, window: number): Promise<number> {
  const { rows } = await db.raw<{ rows: Array<{ hits: number }> }>(
    `INSERT INTO window_counters AS c (name, window_start, hits) VALUES (:name, :window, 1)
     ON CONFLICT (name) DO UPDATE
        SET hits = CASE WHEN c.window_start = EXCLUDED.window_start THEN c.hits + 1 ELSE 1 END,
            window_start = EXCLUDED.window_start
     RETURNING hits`,
    { name, window },
  );
  return rows[0]?.hits ?? 1;
}

/** Takes one hit in `window` only while it holds fewer than `limit`; true when taken. */
export async function takeHit(db: Knex, name: string, window: number, limit: number): Promise<boolean> {
  const { rows } = await db.raw<{ rows: unknown[] }>(
    `INSERT INTO window_counters AS c (name, window_start, hits) VALUES (:name, :window, 1)
     ON CONFLICT (name) DO UPDATE
        SET hits = CASE WHEN c.window_start = EXCLUDED.window_start THEN c.hits + 1 ELSE 1 END,
            window_start = EXCLUDED.window_start
      WHERE c.window_start <> EXCLUDED.window_start OR c.hits < :limit
     RETURNING hits`,
    { name, window, limit },
  );
  return rows.length === 1;
}

/**
 * Takes one hit and `amount` in `window` only while both stay within their limits (hits ≤
 * `maxHits`, amount ≤ `maxAmount`); true when taken, and then nothing was taken otherwise.
 */
export async function takeHitAndAmount(
  db: Knex,
  name: string,
  window: number,
  take: { amount: number; maxHits: number; maxAmount: number },
): Promise<boolean> {
  const { rows } = await db.raw<{ rows: unknown[] }>(
    `INSERT INTO window_counters AS c (name, window_start, hits, amount)
     SELECT :name, :window, 1, CAST(:amount AS bigint) WHERE CAST(:amount AS bigint) <= CAST(:maxAmount AS bigint) AND 1 <= CAST(:maxHits AS integer)
     ON CONFLICT (name) DO UPDATE
        SET hits = CASE WHEN c.window_start = EXCLUDED.window_start THEN c.hits + 1 ELSE 1 END,
            amount = CASE WHEN c.window_start = EXCLUDED.window_start THEN c.amount + EXCLUDED.amount ELSE EXCLUDED.amount END,
            window_start = EXCLUDED.window_start
      WHERE c.window_start <> EXCLUDED.window_start OR (c.hits + 1 <= :maxHits AND c.amount + EXCLUDED.amount <= :maxAmount)
     RETURNING hits`,
    { name, window, ...take },
  );
  return rows.length === 1;
}

/** Adds `delta` (possibly negative) to the amount of `window`, if that window is still the counter's. */
export async function adjustAmount(db: Knex, name: string, window: number, delta: number): Promise<void> {
  await db(WINDOW_COUNTERS).where({ name, window_start: window }).increment('amount', delta);
}

/** Deletes the counters whose window is before `window`; returns how many. */
export async function deleteWindowsBefore(db: Knex, window: number): Promise<number> {
  return db(WINDOW_COUNTERS).where('window_start', '<', window).delete();
}
