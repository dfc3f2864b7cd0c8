import express, { type Router } from 'express';
import type { Logger } from '../log/logger.js';

/** One dependency's state, as `/readyz` reports it. */
export interface ReadinessCheck {
  name: string;
  ok: boolean;
  message: string;
}

/** The answer of a readiness probe: ready only when every check is. */
export interface ReadinessReport {
  ok: boolean;
  checks: ReadinessCheck[];
}

/**
 * `GET /healthz` (the process is up and serving: always 200) and `GET /readyz` (its
 * dependencies are usable: 200, or 503 so a load balancer stops sending traffic). A readiness
 * function that throws counts as not ready; the error is logged, not returned.
 */
export function healthRouter({ readiness, log }: { readiness: () => Promise<ReadinessReport>; log: Logger }): Router {
  const router = express.Router();

  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ ok: true });
  });

  router.get('/readyz', async (_req, res) => {
    let report: ReadinessReport;
    try {
      report = await readiness();
    } catch (error) {
      log.error({ err: error }, 'readiness check threw');
      report = { ok: false, checks: [{ name: 'readiness', ok: false, message: 'the readiness check failed to run' }] };
    }
    res.set('Cache-Control', 'no-store').status(report.ok ? 200 : 503).json(report);
  });

  return router;
}
