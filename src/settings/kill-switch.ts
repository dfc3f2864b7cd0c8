import type { Knex } from 'knex';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { QueueDirectory } from '../jobs/queue-directory.js';

/** The queues a kill switch pauses: everything that leads to a send or a post. */
function haltedByKillSwitch(directory: QueueDirectory) {
  return [directory.campaignTick, ...Object.values(directory.send), ...Object.values(directory.publish)];
}

const KILL_SWITCH_KEY = 'kill_switch';

export interface KillSwitchState {
  on: boolean;
  changedAt: string | null;
  changedBy: string | null;
  /** The queues this switch paused (and `kill off` resumes); queues paused by hand are not among them. */
  pausedQueues: string[];
}

/** The outcome of flipping the switch: the state, and whether the queues followed. */
export interface KillSwitchChange extends KillSwitchState {
  /** False when Redis could not be reached: the database flag alone still stops every send. */
  queuesUpdated: boolean;
}

/**
 * The settings row's value. `pausedQueues` is absent in rows written before the switch recorded
 * which queues it paused; `kill off` then resumes every queue it governs, as it used to.
 */
const killSwitchValue = z.object({ on: z.boolean(), pausedQueues: z.array(z.string()).optional() });
type KillSwitchValue = z.infer<typeof killSwitchValue>;

interface SettingsRow {
  value: unknown;
  updated_at: Date;
  updated_by: string | null;
}

/** How long the switch waits for Redis to pause or resume the queues before answering without it. */
const queueDeadlineMs = 2000;

function toState(row: SettingsRow | undefined): KillSwitchState {
  if (row === undefined) return { on: false, changedAt: null, changedBy: null, pausedQueues: [] };
  const value = killSwitchValue.parse(row.value);
  return { on: value.on, changedAt: row.updated_at.toISOString(), changedBy: row.updated_by, pausedQueues: value.pausedQueues ?? [] };
}

/** Reads the kill switch from Postgres, the truth. */
export async function readKillSwitch(db: Knex): Promise<KillSwitchState> {
  return toState((await db('settings').where({ key: KILL_SWITCH_KEY }).first()) as SettingsRow | undefined);
}

/**
 * Flips the switch in one transaction: `on` keeps the record of queues paused by an earlier
 * `on`, `off` drops it. Returns the value it replaced (undefined when there was none).
 */
async function writeKillSwitch(db: Knex, on: boolean, now: Date, by: string): Promise<KillSwitchValue | undefined> {
  return db.transaction(async (trx) => {
    const row = (await trx('settings').where({ key: KILL_SWITCH_KEY }).forUpdate().first('value')) as { value: unknown } | undefined;
    const previous = row === undefined ? undefined : killSwitchValue.parse(row.value);
    const value: KillSwitchValue = !on ? { on } : previous?.on === true ? previous : { on, pausedQueues: [] };
    await trx.raw(
      `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?::jsonb, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
      [KILL_SWITCH_KEY, JSON.stringify(value), now, by],
    );
    return previous;
  });
}

/** Adds queues to those the switch paused, while it is still on; false when it is off again. */
async function recordPausedQueues(db: Knex, names: readonly string[]): Promise<boolean> {
  const { rowCount } = await db.raw<{ rowCount: number }>(
    `UPDATE settings
        SET value = jsonb_set(value, '{pausedQueues}',
              (SELECT coalesce(jsonb_agg(DISTINCT name ORDER BY name), '[]'::jsonb)
                 FROM jsonb_array_elements_text(coalesce(value->'pausedQueues', '[]'::jsonb) || ?::jsonb) AS name))
      WHERE key = ? AND (value->>'on')::boolean`,
    [JSON.stringify(names), KILL_SWITCH_KEY],
  );
  return rowCount > 0;
}

/**
 * Turns the global kill switch on or off. The database flag is what every send gate reads, and
 * it is committed first; pausing the BullMQ queues as well stops workers picking up new jobs at
 * once. `on` pauses only the queues that are not paused already, and records them; `off`
 * resumes only those, so a queue an operator paused by hand stays paused.
 */
export async function setKillSwitch(
  deps: { db: Knex; queues: QueueRegistry; clock: Clock },
  on: boolean,
  by: string,
): Promise<KillSwitchChange> {
  const previous = await writeKillSwitch(deps.db, on, deps.clock.now(), by);
  const halted = haltedByKillSwitch(deps.queues.directory);
  let updateQueues: Promise<unknown>;
  if (on) {
    updateQueues = (async () => {
      const running = [];
      for (const definition of halted) if (!(await deps.queues.get(definition).isPaused())) running.push(definition);
      // Recorded before pausing, so that a queue the switch paused is one that `off` resumes; and
      // not paused at all when an `off` came first. An `on` over a row from before the record was
      // kept leaves it without one: `off` then resumes everything, as it did.
      const legacy = previous?.on === true && previous.pausedQueues === undefined;
      if (!legacy && !(await recordPausedQueues(deps.db, running.map((definition) => definition.name)))) return;
      await Promise.all(running.map((definition) => deps.queues.get(definition).pause()));
    })();
  } else {
    // Only what the switch paused; a row from before it kept that record resumes everything.
    const names = previous?.on !== true ? [] : (previous.pausedQueues ?? halted.map((definition) => definition.name));
    const toResume = halted.filter((definition) => names.includes(definition.name));
    updateQueues = Promise.all(toResume.map((definition) => deps.queues.get(definition).resume()));
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), queueDeadlineMs)));
  const queuesUpdated = await Promise.race([
    updateQueues.then(
      () => true,
      // The flag is committed and every send gate reads it; the queues catch up on the next flip.
      () => false,
    ),
    deadline,
  ]);
  clearTimeout(timer);
  return { ...(await readKillSwitch(deps.db)), queuesUpdated };
}
