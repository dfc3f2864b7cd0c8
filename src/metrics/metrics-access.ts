import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Whether a request may read metrics: always when no `METRICS_TOKEN` is set (the endpoints are
 * open then, as the README says), else only with `Authorization: Bearer <METRICS_TOKEN>`,
 * compared in constant time.
 */
export function mayReadMetrics(token: string | undefined, authorization: string | undefined): boolean {
  if (token === undefined) return true;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (match === null) return false;
  return timingSafeEqual(digest(match[1] as string), digest(token));
}

/** The answer to a scrape without the token. */
export const metricsUnauthorized = {
  status: 401,
  headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' },
  body: { error: 'metrics need Authorization: Bearer <METRICS_TOKEN>' },
} as const;
