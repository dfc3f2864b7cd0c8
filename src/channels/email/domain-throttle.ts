import type { RedisClient } from '../../redis/connection.js';
import type { Knex } from 'knex';
import type { Clock } from '../../core/clock.js';
import { clockMinute, redisKeys } from '../../redis/keys.js';
import { takeHit, windowCounterNames } from '../../db/window-counter-store.js';

/** Takes one slot if the window has one left; gives it back otherwise. Atomic, so it holds across workers. */
const takeSlotScript = `
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if used > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
return 1`;

/** Per-recipient-domain email throttle: at most `perMinute` sends to one domain per clock minute. */
export interface DomainThrottle {
  /** Takes a slot for one email to `domain`; returns undefined when allowed, else when to try again. */
  take(domain: string): Promise<Date | undefined>;
}

/**
 * A fixed-window counter per recipient domain and clock minute in Redis (`redisKeys.domainThrottle`),
 * shared by every worker. A full window delays the message to the next minute; it never fails it.
 * Minutes come from the injected clock so that tests can move time.
 */
export function domainThrottle(redis: RedisClient, prefix: string, perMinute: number, clock: Clock): DomainThrottle {
  return {
    async take(domain) {
      const minute = clockMinute(clock.now());
      const key = redisKeys.domainThrottle(prefix, domain, minute);
      const allowed = (await redis.eval(takeSlotScript, 1, key, perMinute, 120_000)) as number;
      return allowed === 1 ? undefined : new Date((minute + 1) * 60_000);
    },
  };
}

/** The same throttle in Postgres (`QUEUE_BACKEND=postgres`): one window counter per recipient domain. */
export function postgresDomainThrottle(db: Knex, perMinute: number, clock: Clock): DomainThrottle {
  return {
    async take(domain) {
      const minute = clockMinute(clock.now());
      const allowed = await takeHit(db, windowCounterNames.domainThrottle(domain), minute, perMinute);
      return allowed ? undefined : new Date((minute + 1) * 60_000);
    },
  };
}
