import { createServer, type Server } from 'node:http';
import type { Logger } from '../log/logger.js';
import { mayReadMetrics, metricsUnauthorized } from './metrics-access.js';
import type { MetricsRegistry } from './metrics-registry.js';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus-text.js';

/** A running worker metrics endpoint. */
export interface WorkerMetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves one process's own registry at `GET /metrics` on `host:port` (a bare Node server: no
 * body is read, nothing else is routed; the same bearer rule as the api's `/metrics`).
 */
export async function startWorkerMetricsServer(options: { host: string; port: number; token: string | undefined; registry: MetricsRegistry; log: Logger }): Promise<WorkerMetricsServer> {
  const { registry, token } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'application/json', Allow: 'GET, HEAD' }).end(JSON.stringify({ error: 'only GET /metrics' }));
      return;
    }
    if (!mayReadMetrics(token, req.headers.authorization)) {
      res.writeHead(metricsUnauthorized.status, { 'Content-Type': 'application/json', ...metricsUnauthorized.headers }).end(JSON.stringify(metricsUnauthorized.body));
      return;
    }
    res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : registry.exposition());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  options.log.info({ host: options.host, port }, 'worker metrics listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
