import type { Knex } from 'knex';
import type { RedisClient } from '../../redis/connection.js';
import type { Clock } from '../../core/clock.js';
import { clockMinute, redisKeys } from '../../redis/keys.js';
import { countHit, windowCounterNames } from '../../db/window-counter-store.js';

/** Form submissions per client IP and clock minute, counted where every API process sees them. */
export interface FormRateLimit {
  /** Counts one submission from `ip`; true when it is over `FORM_RATE_PER_MINUTE`. */
  overRate(ip: string): Promise<boolean>;
}

/** One Redis counter per IP and minute, expiring on its own. */
export function redisFormRateLimit(redis: RedisClient, prefix: string, perMinute: number, clock: Clock): FormRateLimit {
  return {
    async overRate(ip) {
      const key = redisKeys.formRate(prefix, ip, clockMinute(clock.now()));
      const [[, count]] = (await redis.multi().incr(key).expire(key, 120).exec()) as [[Error | null, number], [Error | null, number]];
      return count > perMinute;
    },
  };
}

/** One window counter per IP in Postgres (`QUEUE_BACKEND=postgres`). */
export function postgresFormRateLimit(db: Knex, perMinute: number, clock: Clock): FormRateLimit {
  return {
    async overRate(ip) {
      return (await countHit(db, windowCounterNames.formRate(ip), clockMinute(clock.now()))) > perMinute;
    },
  };
}
