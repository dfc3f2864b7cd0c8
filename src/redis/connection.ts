import { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';

export type { Redis };

/**
 * What a connection is for decides how it behaves while Redis is away:
 * - `worker`: BullMQ workers and the producers inside them wait and retry forever
 *   (`maxRetriesPerRequest: null`), so a Redis restart never kills a job or a process.
 * - `http`: producers used by HTTP handlers fail fast (`enableOfflineQueue: false`), so a
 *   request answers 503 instead of hanging while Redis is down.
 */
export type ConnectionRole = 'worker' | 'http';

/** Creates an ioredis connection for the given role, with an `error` listener attached. */
export function createRedisConnection(config: Pick<Config, 'REDIS_URL'>, role: ConnectionRole, log: Logger): Redis {
  const options =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 };
  const connection = new Redis(config.REDIS_URL, {
    ...options,
    // Back off up to 2 s between reconnection attempts; never give up.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  let lastLoggedAt = 0;
  connection.on('error', (error: Error) => {
    // A down Redis produces an error per reconnection attempt; log at most one per 5 s.
    const now = Date.now();
    if (now - lastLoggedAt > 5000) {
      lastLoggedAt = now;
      log.warn({ err: error, role }, 'redis connection error');
    }
  });
  return connection;
}

/** Reads Redis's `maxmemory-policy`; BullMQ needs `noeviction` or jobs can silently vanish. */
export async function readEvictionPolicy(connection: Redis): Promise<string> {
  const reply = (await connection.config('GET', 'maxmemory-policy')) as string[];
  return reply[1] ?? 'unknown';
}
