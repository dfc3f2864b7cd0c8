/**
 * Load test of the signed webhook intake (issue 6): real `drumbeat api` processes (one by
 * default; more run in cluster mode, as ecosystem.config.js runs two under PM2) on a scratch
 * database and queue prefix, hit by autocannon with signed drumbeat events
 * (`POST /webhooks/events`, HMAC over the raw body, fresh timestamp), one per request or a
 * batch of N per request as providers send them; every 20th event is a redelivery of an
 * earlier one. Prints requests/s, events/s, latency percentiles and whether every distinct
 * event was stored exactly once, and the CPU cores the api, this load client, Redis and
 * Postgres kept busy.
 *
 *   node --import tsx test/bench/webhook-load.ts [seconds=15] [connections=50] [eventsPerRequest=1] [apiProcesses=1]
 *
 * Uses DATABASE_URL's server (database `drumbeat_bench_webhooks`, created and dropped) and
 * REDIS_URL (prefix `dbbenchwh<pid>`, deleted afterwards).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/config.js';
import { createDb } from '../../src/db/knex.js';
import { ensureDatabase, migrateLatest } from '../../src/db/migrate.js';
import { signDrumbeat } from '../../src/events/webhook-signatures.js';
import { cpuSecondsByCommand, cpuSecondsOfProcessTree } from './cpu-usage.js';
import { deletePrefix } from './redis-keys.js';

const seconds = Number(process.argv[2] ?? 15);
const connections = Number(process.argv[3] ?? 50);
const eventsPerRequest = Number(process.argv[4] ?? 1);
const apiProcesses = Number(process.argv[5] ?? 1);
const config = loadConfig();
const databaseUrl = new URL(config.DATABASE_URL);
databaseUrl.pathname = '/drumbeat_bench_webhooks';
const prefix = `dbbenchwh${process.pid}`;
const secret = 'bench-webhook-secret-0123456789';
const port = 39_000 + (process.pid % 1000);
const root = fileURLToPath(new URL('../../', import.meta.url));

await ensureDatabase(databaseUrl.toString());
const db = createDb({ DATABASE_URL: databaseUrl.toString(), DATABASE_POOL_MAX: 2 });
await migrateLatest(db);
await db.raw('TRUNCATE inbox_events RESTART IDENTITY CASCADE');

const env: Record<string, string> = {};
for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
const api = spawn(process.execPath, ['--import', 'tsx', 'test/bench/api-cluster.ts', String(apiProcesses)], {
  cwd: root,
  env: {
    ...env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl.toString(),
    DATABASE_POOL_MAX: '20',
    QUEUE_PREFIX: prefix,
    WEBHOOK_SECRET: secret,
    PORT: String(port),
    HOST: '127.0.0.1',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});

async function waitForApi(): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the api process did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

let sent = 0;
const distinct = new Set<string>();
function nextEvent(): Record<string, string> {
  sent += 1;
  // Every 20th event redelivers an earlier one: it must be acknowledged and not stored again.
  const id = sent % 20 === 0 && sent > 20 ? `evt-${sent - 10}` : `evt-${sent}`;
  distinct.add(id);
  return { id, type: 'opened', occurredAt: new Date().toISOString(), email: `lead-${sent % 5000}@bench.example` };
}
function nextRequest(request: autocannon.Request): autocannon.Request {
  const events = Array.from({ length: eventsPerRequest }, nextEvent);
  const body = JSON.stringify(eventsPerRequest === 1 ? events[0] : events);
  return {
    ...request,
    body,
    headers: { 'content-type': 'application/json', 'drumbeat-signature': signDrumbeat(secret, body, Math.floor(Date.now() / 1000)) },
  };
}

/** CPU seconds so far of the api process, this load client, Redis and Postgres. */
function cpuSnapshot(): Record<string, number> {
  const client = process.cpuUsage();
  const services = cpuSecondsByCommand(['redis-server', 'postgres']);
  return {
    api: cpuSecondsOfProcessTree(api.pid ?? 0),
    loadClient: (client.user + client.system) / 1e6,
    redis: services['redis-server'] ?? 0,
    postgres: services.postgres ?? 0,
  };
}

try {
  await waitForApi();
  const cpuBefore = cpuSnapshot();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [{ method: 'POST', path: '/webhooks/events', setupRequest: nextRequest }],
  });
  const cpuAfter = cpuSnapshot();
  const coresBusy = Object.fromEntries(
    Object.entries(cpuAfter).map(([part, secondsUsed]) => [part, Number(((secondsUsed - (cpuBefore[part] ?? 0)) / seconds).toFixed(2))]),
  );
  const [row] = (await db('inbox_events').select(db.raw('count(*)::int AS stored'), db.raw('count(DISTINCT event_id)::int AS distinct'))) as Array<{
    stored: number;
    distinct: number;
  }>;
  const report = {
    seconds,
    connections,
    apiProcesses,
    requests: result.requests.total,
    eventsPerRequest,
    requestsPerSecond: Math.round(result.requests.average),
    eventsPerSecond: Math.round(result.requests.average * eventsPerRequest),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    distinctEventsSent: distinct.size,
    inboxRows: row?.stored,
    coresBusy,
    storedExactlyOnce: row?.stored === row?.distinct && (row?.stored ?? 0) >= distinct.size - connections * eventsPerRequest,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  api.kill('SIGTERM');
  await once(api, 'exit');
  await db.destroy();
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const adminDb = createDb({ DATABASE_URL: admin.toString(), DATABASE_POOL_MAX: 1 });
  await adminDb.raw('DROP DATABASE IF EXISTS drumbeat_bench_webhooks WITH (FORCE)');
  await adminDb.destroy();
  const redis = new Redis(config.REDIS_URL);
  await deletePrefix(redis, prefix);
  redis.disconnect();
}
