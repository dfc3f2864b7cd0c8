import type { NextFunction, Request, Response } from 'express';
import type { RedisClient } from '../redis/connection.js';

const unavailableBody = { error: 'the queue store (Redis) is unavailable; nothing was changed, try again shortly' };

/**
 * Whether an error means Redis could not be reached: the HTTP producer connection refuses
 * commands while disconnected (`enableOfflineQueue: false`) instead of queueing them; a Cluster
 * says so in its own words (no node answers, slots unknown, the cluster is down).
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    error.name === 'ClusterAllFailedError' ||
    /enableOfflineQueue|Connection is closed|ECONNREFUSED|Stream isn't writeable|None of startup nodes is available|Failed to refresh slots cache|^CLUSTERDOWN|All sentinels are unreachable/.test(error.message)
  );
}

/** Answers 503 at once, before anything changes, when a route that enqueues finds Redis down. */
export function requireRedis(redis: RedisClient) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (redis.status === 'ready') next();
    else res.status(503).set('Retry-After', '5').json(unavailableBody);
  };
}

/** The 503 answer for a Redis failure in the middle of a request. */
export function answerRedisUnavailable(res: Response): void {
  res.status(503).set('Retry-After', '5').json(unavailableBody);
}
