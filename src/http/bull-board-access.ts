import express, { type Router } from 'express';
import { appRoutes } from '@bull-board/api/dist/routes.js';
import { ADMIN_ROLES, OPERATE_ROLES, READ_ROLES, roleAllows, roleRefusal, type Role } from '../operators/roles.js';
import { operatorSessionOf } from './admin-session.js';

/** Who may use one Bull Board API route, and what it does in words (for the refusal). */
export interface BoardRouteAccess {
  /** The roles allowed, or `nobody` for actions drumbeat never allows from the board. */
  allowed: readonly Role[] | 'nobody';
  /** What the route does, completing "may not …". */
  action: string;
}

const read = (action: string): BoardRouteAccess => ({ allowed: READ_ROLES, action });
const operate = (action: string): BoardRouteAccess => ({ allowed: OPERATE_ROLES, action });
const administer = (action: string): BoardRouteAccess => ({ allowed: ADMIN_ROLES, action });
const nobody = (action: string): BoardRouteAccess => ({ allowed: 'nobody', action });

/**
 * Every Bull Board 9 API route by `METHOD path` (as declared in `@bull-board/api`'s routes).
 * Jobs carry ids that drumbeat re-checks, but a job added or edited by hand could name anything,
 * so adding jobs and editing their data is refused for everyone. Destroying jobs is for admins;
 * retrying, promoting and pausing (how operators handle dead letters) for operators too.
 * A route missing here is refused for everyone when it changes something (see
 * {@link boardRouteAccess}), so a board upgrade cannot open a new action silently.
 */
export const BOARD_ROUTE_ACCESS: Readonly<Record<string, BoardRouteAccess>> = {
  'GET /api/redis/stats': read('read Redis statistics'),
  'GET /api/queues': read('read queues'),
  'GET /api/job-schedulers': read('read job schedulers'),
  'GET /api/queues/:queueName/metrics': read('read queue metrics'),
  'GET /api/queues/:queueName/default-job-options': read('read job options'),
  'GET /api/queues/:queueName/workers': read('read workers'),
  'GET /api/queues/:queueName/rate-limit': read('read rate limits'),
  'GET /api/queues/:queueName/job-data-schema': read('read job data schemas'),
  'GET /api/queues/:queueName/:jobId/logs': read('read job logs'),
  'GET /api/queues/:queueName/:jobId/flow': read('read job flows'),
  'GET /api/queues/:queueName/:jobId': read('read jobs'),
  'GET /api/metrics/history': read('read metrics history'),
  'GET /api/metrics/history/usage': read('read metrics history usage'),
  'GET /api/metrics/latency': read('read latency metrics'),

  'POST /api/queues/:queueName/add': nobody('add jobs from Bull Board; drumbeat creates its own jobs'),
  'PATCH /api/queues/:queueName/:jobId/update-data': nobody('edit job data from Bull Board; drumbeat re-reads its records'),
  'PATCH /api/queues/:queueName/job-schedulers/:schedulerId': nobody('edit job schedulers from Bull Board; drumbeat keeps them in step with campaigns'),

  'PUT /api/queues/pause': operate('pause queues'),
  'PUT /api/queues/resume': operate('resume queues'),
  'PUT /api/queues/:queueName/pause': operate('pause queues'),
  'PUT /api/queues/:queueName/resume': operate('resume queues'),
  'PUT /api/queues/:queueName/retry/:queueStatus': operate('retry jobs'),
  'PUT /api/queues/:queueName/:jobId/retry': operate('retry jobs'),
  'PUT /api/queues/:queueName/promote': operate('promote jobs'),
  'PUT /api/queues/:queueName/:jobId/promote': operate('promote jobs'),

  'PUT /api/queues/:queueName/clean/:queueStatus': administer('clean queues'),
  'PUT /api/queues/:queueName/:jobId/clean': administer('remove jobs'),
  'PUT /api/queues/:queueName/:jobId/remove-unprocessed-children': administer('remove jobs'),
  'PUT /api/queues/:queueName/empty': administer('empty queues'),
  'PUT /api/queues/:queueName/obliterate': administer('obliterate queues'),
  'PUT /api/queues/:queueName/concurrency': administer('change queue concurrency'),
  'PUT /api/queues/:queueName/rate-limit': administer('change queue rate limits'),
  'PUT /api/queues/:queueName/rate-limit/release': administer('release queue rate limits'),
  'PATCH /api/queues/:queueName/:jobId/delay': administer('reschedule jobs'),
  'PATCH /api/queues/:queueName/:jobId/priority': administer('change job priorities'),
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/remove': administer('remove job schedulers'),
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/run': administer('run job schedulers'),
  'POST /api/metrics/history/purge': administer('purge metrics history'),
};

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The access rule of one board route; a route this table does not know may be read, never used to change anything. */
export function boardRouteAccess(method: string, route: string): BoardRouteAccess {
  const upper = method.toUpperCase();
  return BOARD_ROUTE_ACCESS[`${upper} ${route}`] ?? (safeMethods.has(upper) ? read('read the board') : nobody('use this Bull Board action'));
}

function methodsOf(route: { method: string | string[] }): string[] {
  return Array.isArray(route.method) ? route.method : [route.method];
}

/**
 * Bull Board has no per-user permissions, so this router goes in front of it (after the
 * session and CSRF checks) and decides by the signed-in operator's role. It declares the
 * board's own API routes, in the board's order, with the same Express router, so a request
 * matches here exactly the route it would reach there (first match wins in both, with the same
 * case-insensitivity and trailing-slash rules); an allowed request leaves this router and
 * goes on to the board. Any other state-changing request under `/api` is refused.
 */
export function boardAccess(): Router {
  const gate = express.Router();
  for (const route of appRoutes.api) {
    for (const path of Array.isArray(route.route) ? route.route : [route.route]) {
      for (const method of methodsOf(route)) {
        const access = boardRouteAccess(method, path);
        gate[method as 'get' | 'post' | 'put' | 'patch'](path, (req, res, next) => {
          const { role } = operatorSessionOf(req);
          if (access.allowed === 'nobody') {
            res.status(403).json({ error: `nobody may ${access.action}` });
          } else if (!roleAllows(role, access.allowed)) {
            res.status(403).json({ error: roleRefusal(role, access.action, access.allowed) });
          } else {
            next('router');
          }
        });
      }
    }
  }
  gate.use('/api', (req, res, next) => {
    if (safeMethods.has(req.method)) next();
    else res.status(403).json({ error: 'nobody may use this Bull Board action' });
  });
  return gate;
}
