import type { Knex } from 'knex';
import type { Clock } from '../runtime/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import { campaignTickQueue } from '../../queues/campaign-tick.js';
import { publishQueues, sendQueues } from '../../queues/index.js';

/** The queues a kill switch pauses: everything that leads to a send or a post. */
const haltedByKillSwitch = [campaignTickQueue, ...Object.values(sendQueues), ...Object.values(publishQueues)];

const KILL_SWITCH_KEY = 'kill_switch';

export interface KillSwitchState {
  on: boolean;
  changedAt: string | null;
  changedBy: string | null;
}

/** The outcome of flipping the switch: the state, and whether the queues followed. */
export interface KillSwitchChange extends KillSwitchState {
  /** False when Redis could not be reached: the database flag alone still stops every send. */
  queuesUpdated: boolean;
}

/** How long the switch waits for Redis to pause or resume the queues before answering without it. */
const queueDeadlineMs = 2000;

/** Reads the kill switch from Postgres, the truth. */
export async function readKillSwitch(db: Knex): Promise<KillSwitchState> {
  const row = (await db('settings').where({ key: KILL_SWITCH_KEY }).first()) as
    | { value: { on: boolean }; updated_at: Date; updated_by: string | null }
    | undefined;
  return row === undefined
    ? { on: false, changedAt: null, changedBy: null }
    : { on: row.value.on, changedAt: row.updated_at.toISOString(), changedBy: row.updated_by };
}

/**
 * Turns the global kill switch on or off. The database flag is what every send gate reads;
 * pausing the BullMQ queues as well stops workers picking up new jobs at once.
 */
export async function setKillSwitch(
  deps: { db: Knex; queues: QueueRegistry; clock: Clock },
  on: boolean,
  by: string,
): Promise<KillSwitchChange> {
  await deps.db.raw(
    `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?::jsonb, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
    [KILL_SWITCH_KEY, JSON.stringify({ on }), deps.clock.now(), by],
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), queueDeadlineMs)));
  const updateQueues = Promise.all(
    haltedByKillSwitch.map((definition) => (on ? deps.queues.get(definition).pause() : deps.queues.get(definition).resume())),
  ).then(
    () => true,
    // The flag is committed and every send gate reads it; the queues catch up on the next flip.
    () => false,
  );
  const queuesUpdated = await Promise.race([updateQueues, deadline]);
  clearTimeout(timer);
  return { ...(await readKillSwitch(deps.db)), queuesUpdated };
}
