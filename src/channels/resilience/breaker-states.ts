import type { Knex } from 'knex';
import type { RedisClient } from '../../redis/connection.js';
import type { BreakerState } from './breakers.js';
import { redisKeys } from '../../redis/keys.js';

/**
 * Where the workers' breaker states are shared: breakers live in the worker processes, `/readyz`
 * and `drumbeat breakers` read them from anywhere. Redis or Postgres, as the queues are.
 */
export interface BreakerStateStore {
  publish(state: BreakerState): Promise<void>;
  /** Every reported state, by name. */
  read(): Promise<BreakerState[]>;
}

/** The states in one Redis hash under the queue prefix. */
export function redisBreakerStates(redis: RedisClient, prefix: string): BreakerStateStore {
  return { publish: (state) => publishBreakerState(redis, prefix, state), read: () => readBreakerStates(redis, prefix) };
}

const BREAKER_STATES = 'breaker_states';

/** The states in Postgres (`breaker_states`, one row per breaker), for `QUEUE_BACKEND=postgres`. */
export function postgresBreakerStates(db: Knex, now: () => Date): BreakerStateStore {
  return {
    async publish(state) {
      await db(BREAKER_STATES)
        .insert({ name: state.name, state: JSON.stringify({ ...state, pid: process.pid }), updated_at: now() })
        .onConflict('name')
        .merge(['state', 'updated_at']);
    },
    async read() {
      const rows = (await db(BREAKER_STATES).orderBy('name').select('state')) as Array<{ state: BreakerState }>;
      return rows.map((row) => row.state);
    },
  };
}

/**
 * Records a breaker's new state where every process can read it: breakers live in the worker
 * processes, `/readyz` is answered by the API process. The last state reported by any worker wins.
 */
export async function publishBreakerState(redis: RedisClient, prefix: string, state: BreakerState): Promise<void> {
  // One hash per deployment: field = breaker name, value = its last reported state.
  await redis.hset(redisKeys.breakerStates(prefix), state.name, JSON.stringify({ ...state, pid: process.pid }));
}

/** Every breaker state reported by the workers, by name. */
export async function readBreakerStates(redis: RedisClient, prefix: string): Promise<BreakerState[]> {
  const fields = await redis.hgetall(redisKeys.breakerStates(prefix));
  return Object.values(fields)
    .map((value) => JSON.parse(value) as BreakerState)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Breaker states as readiness checks. An open breaker does not make the API unready (it still
 * serves), so every check is ok; the message says what is held and until when.
 */
export function breakerChecks(states: readonly BreakerState[]): Array<{ name: string; ok: boolean; message: string }> {
  return states.map((state) => ({
    name: `breaker-${state.name}`,
    ok: true,
    message:
      state.state === 'open'
        ? `Circuit breaker ${state.name} is open since ${state.since}; its calls are held until ${state.retryAt ?? 'the half-open trial'}.`
        : `Circuit breaker ${state.name} is ${state.state} since ${state.since}.`,
  }));
}
