import type { Redis } from 'ioredis';
import { redisKeys } from '../../src/redis/keys.js';

/** Deletes every key under a BullMQ queue prefix (`<prefix>:…`), a bench run's leftovers. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', redisKeys.everyKey(prefix), 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
