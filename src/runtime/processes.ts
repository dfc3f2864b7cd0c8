import type { Server } from 'node:http';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { allQueues } from '../../queues/index.js';
import { allProcessors } from '../../processors/index.js';
import { checkCatalogue } from '../jobs/catalogue.js';
import { createApp } from '../http/app.js';
import { apiRoutes } from '../http/api-routes.js';
import { adminPages } from '../http/admin/admin-pages.js';
import { publicFeedbackRoutes } from '../http/webhooks/public-feedback-routes.js';
import { webhookRoutes } from '../http/webhooks/webhook-routes.js';
import { runPreflight, type PreflightCheck, type PreflightReport } from '../preflight/preflight.js';
import { campaignsPausedByDrumbeat, type Campaign } from '../campaigns/campaign-store.js';
import { breakerChecks } from '../channels/resilience/breaker-states.js';
import { createAppContext, type AppContext } from './context.js';
import { installShutdown, type ShutdownStep } from './shutdown.js';
import { startWorkers, warnOnEvictionPolicy, type RunningWorkers } from './worker-runtime.js';
import { globalMetrics } from '../analytics/global-metrics.js';

/**
 * The campaigns drumbeat paused on a fault that is not a lead's, as one check that never makes
 * the API unready: webhooks and unsubscribes must keep flowing while an operator fixes it.
 */
function pausedCampaignChecks(paused: readonly Campaign[]): PreflightCheck[] {
  if (paused.length === 0) return [];
  const message = paused.map((campaign) => `campaign ${campaign.id} "${campaign.name}" paused by drumbeat: ${campaign.pauseReason ?? 'no reason recorded'}`).join('; ');
  return [{ name: 'campaigns-paused', ok: true, message }];
}

/**
 * `/readyz`: the preflight checks (the cheap ones: no SMTP login per probe), plus the
 * circuit-breaker states the workers reported and the campaigns drumbeat paused. Neither of the
 * latter makes the API unready; an unreadable list is left out (the Redis or Postgres check
 * says why).
 */
export async function readiness(ctx: AppContext): Promise<PreflightReport> {
  const [report, states, paused] = await Promise.all([
    runPreflight(ctx.config, ctx.db),
    ctx.breakerStates.read().catch(() => []),
    campaignsPausedByDrumbeat(ctx.db).catch(() => []),
  ]);
  return { ok: report.ok, checks: [...report.checks, ...breakerChecks(states), ...pausedCampaignChecks(paused)] };
}

/** The Express app of the API process: probes, `/metrics`, admin board, admin API, webhooks and forms. */
export function buildHttpApp(ctx: AppContext) {
  return createApp({
    config: ctx.config,
    log: ctx.log,
    db: ctx.db,
    clock: ctx.clock,
    boardQueues: allQueues.map((definition) => ctx.queues.get(definition)),
    readiness: () => readiness(ctx),
    adminPages: () => adminPages(ctx),
    metrics: () => globalMetrics({ db: ctx.db, breakerStates: ctx.breakerStates, queues: allQueues.map((definition) => ctx.queues.get(definition)) }),
    apiRoutes: (router) => apiRoutes(router, ctx),
    webhookRoutes: (router) => webhookRoutes(router, ctx),
    publicRoutes: (router) => publicFeedbackRoutes(router, ctx),
  });
}

/** Starts the HTTP server of an API process on the configured host and port. */
export async function startHttp(ctx: AppContext): Promise<Server> {
  const app = buildHttpApp(ctx);
  return new Promise((resolve, reject) => {
    const server = app.listen(ctx.config.PORT, ctx.config.HOST, () => {
      ctx.log.info({ host: ctx.config.HOST, port: ctx.config.PORT }, 'api listening');
      resolve(server);
    });
    server.once('error', reject);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}

/**
 * Runs the `api` process, the `worker` process, or both in one (`start`, for local use), with
 * the ordered shutdown: stop HTTP, drain workers, then shut the breakers, close the queues, quit
 * Redis and destroy the database pool (`AppContext.close`).
 * Once it listens (and its workers run) it sends `'ready'` to its parent when it has an IPC
 * channel (PM2).
 */
export async function runProcess(kind: 'api' | 'worker' | 'start', config: Config, log: Logger): Promise<void> {
  checkCatalogue(allQueues, allProcessors);
  const ctx = createAppContext(config, log, { redisRole: kind === 'api' ? 'http' : 'worker' });
  let server: Server | undefined;
  let workers: RunningWorkers | undefined;
  installShutdown(
    log,
    () => {
      const steps: ShutdownStep[] = [];
      if (server !== undefined) {
        const running = server;
        steps.push({ name: 'stop HTTP', run: () => closeServer(running) });
      }
      if (workers !== undefined) {
        const running = workers;
        steps.push({ name: 'drain workers', run: () => running.close() });
      }
      steps.push({ name: 'shut breakers, close queues, Redis and the database pool', run: () => ctx.close() });
      return steps;
    },
    config.SHUTDOWN_TIMEOUT,
  );
  if (kind !== 'worker') {
    await warnOnEvictionPolicy(ctx).catch((error: unknown) => log.warn({ err: error }, 'could not read the Redis eviction policy'));
    server = await startHttp(ctx);
  }
  if (kind !== 'api') workers = await startWorkers(ctx);
  // PM2 (`wait_ready`) counts the process as online only now that it listens and its workers
  // run; a process that fails to start never sends it, and PM2 shows it errored.
  process.send?.('ready');
}
