import type { NextFunction, Request, Response } from 'express';
import type { QueueRegistry } from '../jobs/queue-registry.js';

const unavailableBody = { error: 'the queue store is unavailable; nothing was changed, try again shortly' };

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

/**
 * Answers 503 at once, before anything changes, when a route that enqueues finds the queue store
 * (Redis, or Postgres with `QUEUE_BACKEND=postgres`) down.
 */
export function requireQueueStore(queues: Pick<QueueRegistry, 'available'>) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    queues.available().then(
      (available) => {
        if (available) next();
        else res.status(503).set('Retry-After', '5').json(unavailableBody);
      },
      next,
    );
  };
}

/** The 503 answer for a Redis failure in the middle of a request. */
export function answerRedisUnavailable(res: Response): void {
  res.status(503).set('Retry-After', '5').json(unavailableBody);
}
