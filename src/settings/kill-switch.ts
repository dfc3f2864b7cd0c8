import type { Knex } from 'knex';
import type { Clock } from '../runtime/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import { campaignTickQueue } from '../../queues/campaign-tick.js';
import { sendQueues } from '../../queues/index.js';

/** The queues a kill switch pauses: everything that leads to a send. */
const haltedByKillSwitch = [campaignTickQueue, ...Object.values(sendQueues)];

const KILL_SWITCH_KEY = 'kill_switch';

export interface KillSwitchState {
  on: boolean;
  changedAt: string | null;
  changedBy: string | null;
}

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
): Promise<KillSwitchState> {
  await deps.db.raw(
    `INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?::jsonb, ?, ?)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
    [KILL_SWITCH_KEY, JSON.stringify({ on }), deps.clock.now(), by],
  );
  for (const definition of haltedByKillSwitch) {
    const queue = deps.queues.get(definition);
    if (on) await queue.pause();
    else await queue.resume();
  }
  return readKillSwitch(deps.db);
}
