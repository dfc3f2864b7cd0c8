import express from 'express';
import cookieParser from 'cookie-parser';
import type { AppQueue } from '../jobs/queue-store.js';
import type { Config } from '../config/config.js';
import type { Knex } from '../db/knex.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import { adminRouter } from './admin-routes.js';
import { apiTokenOf, requireApiToken } from './api-auth.js';
import { jsonErrorHandler, jsonNotFound } from './errors.js';
import { healthRouter, type ReadinessReport } from './health-routes.js';
import { metricsRouter } from './metrics-route.js';
import { securityHeaders } from './security-headers.js';
import { refuseDeepJson, refuseUnsafeInput } from './safe-input.js';

/** Everything the HTTP app is built from; it opens no connections of its own. */
export interface HttpDeps {
  config: Config;
  log: Logger;
  db: Knex;
  clock: Clock;
  /** The BullMQ queues shown (and operable) in Bull Board at `/admin/queues`. */
  boardQueues: AppQueue[];
  /** Answers `GET /readyz`: 200 when `ok`, 503 otherwise, with the checks either way. */
  readiness: () => Promise<ReadinessReport>;
  /**
   * Builds the operator console's pages, mounted under `/admin` behind the session and CSRF
   * wall (src/http/admin/admin-pages.ts).
   */
  adminPages?: () => express.Router;
  /**
   * Answers `GET /metrics` in the Prometheus text format (behind `METRICS_TOKEN` when it is set);
   * without it the app has no `/metrics`.
   */
  metrics?: () => Promise<string>;
  /** Adds routes under `/api`, after bearer-token authentication. */
  apiRoutes?: (router: express.Router) => void;
  /**
   * Adds the provider webhook routes under `/webhooks`. They see the raw body (signatures cover
   * the exact bytes), come first, and pass through nothing else: no JSON, form or cookie
   * parsing, no other route matching. They must authenticate requests themselves.
   */
  webhookRoutes?: (router: express.Router) => void;
  /**
   * Adds unauthenticated routes at `/` (public forms, unsubscribe), ahead of `/admin` and
   * `/api`; they must authenticate requests themselves (e.g. by token) and must not use paths
   * under `/webhooks`, `/admin` or `/api`.
   */
  publicRoutes?: (router: express.Router) => void;
}

/**
 * The HTTP surface: health probes, public routes, the admin area (session sign-in, CSRF,
 * Bull Board) and the bearer-token API, with security headers, size-limited JSON and form
 * bodies, and JSON answers for every 404 and error. The caller listens and closes.
 */
export function createApp(deps: HttpDeps): express.Express {
  const { config, log, db, clock } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Behind a reverse proxy, req.ip and req.secure must come from X-Forwarded-* headers.
  app.set('trust proxy', config.TRUST_PROXY);

  // No ETags: every answer here is dynamic, and hashing each body costs CPU on the webhook path.
  app.set('etag', false);

  // Webhook signatures cover the exact bytes received: /webhooks gets them raw (size-capped),
  // and the JSON and form parsers below then leave those requests alone. Webhooks come first:
  // providers' machines read their JSON answers, so browser security headers do nothing there.
  app.use('/webhooks', express.raw({ type: () => true, limit: config.WEBHOOK_BODY_LIMIT }));
  const webhookRouter = express.Router();
  deps.webhookRoutes?.(webhookRouter);
  app.use('/webhooks', webhookRouter);
  app.use(securityHeaders(config));
  app.use(express.json({ limit: config.BODY_LIMIT, verify: refuseDeepJson }));
  app.use(express.urlencoded({ limit: config.BODY_LIMIT, extended: false }));
  app.use(refuseUnsafeInput);
  app.use(cookieParser());

  app.use(healthRouter({ readiness: deps.readiness, log }));
  if (deps.metrics !== undefined) app.use(metricsRouter({ token: config.METRICS_TOKEN, metrics: deps.metrics, log }));

  const publicRouter = express.Router();
  deps.publicRoutes?.(publicRouter);
  app.use(publicRouter);

  app.use('/admin', adminRouter({ config, log, db, clock, boardQueues: deps.boardQueues, pages: deps.adminPages?.() }));

  const apiRouter = express.Router();
  apiRouter.use(requireApiToken({ db, clock }));
  apiRouter.get('/whoami', (req, res) => {
    const token = apiTokenOf(req);
    res.json({ id: token.id, name: token.name, role: token.role, operator: token.operatorEmail, expiresAt: token.expiresAt?.toISOString() ?? null });
  });
  deps.apiRoutes?.(apiRouter);
  app.use('/api', apiRouter);

  app.use(jsonNotFound);
  app.use(jsonErrorHandler({ log, bodyLimit: config.BODY_LIMIT }));
  return app;
}
