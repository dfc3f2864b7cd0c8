import express, { type Router } from 'express';
import type { Logger } from '../log/logger.js';
import { mayReadMetrics, metricsUnauthorized } from '../metrics/metrics-access.js';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/prometheus-text.js';

/**
 * `GET /metrics`: the Prometheus text format, behind `Authorization: Bearer <METRICS_TOKEN>`
 * when one is set (401 otherwise), open when none is. When Postgres or Redis cannot be read
 * the scrape answers 503 (logged), so Prometheus records it as down rather than as zeros.
 */
export function metricsRouter({ token, metrics, log }: { token: string | undefined; metrics: () => Promise<string>; log: Logger }): Router {
  const router = express.Router();
  router.get('/metrics', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    if (!mayReadMetrics(token, req.get('authorization'))) {
      res.status(metricsUnauthorized.status).set(metricsUnauthorized.headers).json(metricsUnauthorized.body);
      return;
    }
    let text: string;
    try {
      text = await metrics();
    } catch (error) {
      log.warn({ err: error }, 'metrics scrape failed');
      res.status(503).json({ error: 'metrics are unavailable now: Postgres or Redis did not answer' });
      return;
    }
    res.status(200).type(PROMETHEUS_CONTENT_TYPE).send(text);
  });
  return router;
}
