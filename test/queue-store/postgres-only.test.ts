import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { migrateQueueSchema } from '../../src/jobs/queue-schema.js';
import { workersListenName } from '../../src/jobs/shared-listen.js';
import { signDrumbeat } from '../../src/events/webhook-signatures.js';
import { addOperator } from '../../src/operators/operator-service.js';
import { resetDatabase, resetQueueStore, testDb, testRun } from '../setup/hooks.js';
import { engineContext, eventually, ledger, makeLeads, runDrumbeat, seedCampaign, spawnDrumbeat, stopProcess } from '../support/engine.js';
import { freePort } from '../support/private-redis.js';
import { signIn } from '../http/http-harness.js';
import { clockNow } from '../support/clock.js';
import { inboxCounts } from '../webhooks/webhook-support.js';
import { allQueues } from '../../queues/index.js';

const webhookSecret = 'whsec-postgres-only-0123456789';
const password = 'a-long-enough-password';

/**
 * A TCP server where REDIS_URL points: in Postgres mode nothing may connect to it. A closed port
 * would only show a connection attempt as a log line; this counts every one.
 */
async function redisTrap(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('QUEUE_BACKEND=postgres: one service, no Redis', function () {
  this.timeout(90_000);
  let trap: Awaited<ReturnType<typeof redisTrap>>;
  let env: Record<string, string>;
  let ctx: AppContext;
  let processes: ChildProcess[] = [];

  before(async () => {
    // This file runs in the default (Redis) run too: its queue schema is its own to migrate.
    await migrateQueueSchema(testRun.databaseUrl);
    trap = await redisTrap();
  });

  after(async () => {
    await trap.close();
  });

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore('postgres');
    env = { QUEUE_BACKEND: 'postgres', REDIS_URL: trap.url, WEBHOOK_SECRET: webhookSecret, QUEUE_POOL_MAX: '4' };
    ctx = engineContext({ env });
  });

  afterEach(async () => {
    await Promise.all(processes.map((child) => stopProcess(child)));
    processes = [];
    await ctx.close();
    expect(trap.connections(), 'connections to the Redis address').to.equal(0);
  });

  function start(args: string[], extra: Record<string, string> = {}): ChildProcess {
    const child = spawnDrumbeat(args, { ...env, ...extra });
    child.stdout?.resume();
    child.stderr?.resume();
    processes.push(child);
    return child;
  }

  it('an api and a worker run a campaign, a webhook, a form, readiness and Bull Board, and never connect to Redis', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    start(['api'], { HOST: '127.0.0.1', PORT: String(port), PUBLIC_URL: base, FORM_RATE_PER_MINUTE: '3' });
    const worker = start(['worker'], { RECONCILE_EVERY: '1s', DATABASE_POOL_MAX: '3' });
    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(40),
      scheduled: true,
      spec: {
        slug: 'one-service',
        tickEvery: '1s',
        steps: [
          { channel: 'email', delay: '0s', subject: 'Hi', body: 'One <%= it.lead.firstName %>' },
          { channel: 'linkedin', delay: '1s', body: 'Two <%= it.lead.firstName %>' },
        ],
      },
    });
    await eventually(async () => (await ctx.campaigns.require(campaignId)).status === 'COMPLETED', 'the campaign to complete', 60_000);
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 80, distinct: 80 });
    // The worker's connections: its two pools (named after its pid) and the LISTEN its fifteen
    // workers share (named after its pid too), where BullMQ alone would hold one LISTEN per worker
    // (named after its queue).
    const queueConnectionNames = [`drumbeat-${worker.pid}`, workersListenName(worker.pid ?? 0), ...allQueues.map((queue) => queue.name)];
    const [{ count: queueConnections }] = (await ctx.db('pg_stat_activity').whereIn('application_name', queueConnectionNames).count('* as count')) as [{ count: string }];
    expect(Number(queueConnections), 'DATABASE_POOL_MAX (3) + QUEUE_POOL_MAX (4) + one shared LISTEN').to.be.within(1, 8);

    await eventually(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 'the api to listen');
    const ready = await fetch(`${base}/readyz`);
    const readiness = (await ready.json()) as { ok: boolean; checks: Array<{ name: string; ok: boolean; message: string }> };
    expect(ready.status, JSON.stringify(readiness)).to.equal(200);
    expect(readiness.checks.find((check) => check.name === 'queue-store')?.message).to.match(/^Queues run on Postgres: BullMQ schema "bullmq" at version \d+; no Redis is used\.$/);
    expect(readiness.checks.map((check) => check.name)).to.not.include('redis');

    const event = JSON.stringify({ id: 'evt-one-service-1', type: 'opened', occurredAt: clockNow().now().toISOString(), email: 'lead-0@example.com' });
    const webhook = await fetch(`${base}/webhooks/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'drumbeat-signature': signDrumbeat(webhookSecret, event, Math.floor(clockNow().now().getTime() / 1000)) },
      body: event,
    });
    expect(webhook.status).to.equal(200);
    await eventually(async () => (await inboxCounts(ctx)).applied === 1, 'the event applied by the events queue');

    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      const form = await fetch(`${base}/forms/one-service`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `form-${attempt}@example.com`, consent: 'yes' }),
      });
      statuses.push(form.status);
    }
    expect(statuses, 'the per-IP limit (3 a minute) counted in Postgres').to.deep.equal([200, 200, 200, 429]);

    await addOperator(testDb(), 'viewer@example.com', password, { role: 'viewer' });
    const session = await signIn({ url: (path) => `${base}${path}`, close: () => Promise.resolve() }, 'viewer@example.com', password);
    const board = await fetch(`${base}/admin/queues/api/queues`, { headers: { cookie: session.cookie } });
    expect(board.status).to.equal(200);
    const { queues } = (await board.json()) as { queues: Array<{ name: string; counts: Record<string, number>; hasWorkers: boolean | null }> };
    const sendEmail = queues.find((queue) => queue.name === 'send-email');
    expect(queues.map((queue) => queue.name)).to.include.members(['campaign-tick', 'send-email', 'send-linkedin', 'events', 'reconcile']);
    expect(sendEmail?.counts.completed, 'the board reads the jobs from Postgres').to.equal(40);
    expect(queues.filter((queue) => queue.hasWorkers !== true).map((queue) => queue.name), 'queues the board says nothing consumes').to.deep.equal([]);
    const workers = await fetch(`${base}/admin/queues/api/queues/send-email/workers`, { headers: { cookie: session.cookie } });
    expect(((await workers.json()) as { workers: Array<{ name: string }> }).workers.map((entry) => entry.name), 'the worker process, by its shared LISTEN').to.deep.equal([
      workersListenName(worker.pid ?? 0),
    ]);
  });

  it('migrate and preflight name the Postgres queue store and need no Redis', async () => {
    const migrated = await runDrumbeat(['migrate'], env);
    expect(migrated.stdout).to.match(/queue schema "bullmq" at BullMQ version \d+/);
    const preflight = await runDrumbeat(['preflight'], env);
    expect(preflight.code, preflight.stdout + preflight.stderr).to.equal(0);
    expect(preflight.stdout).to.match(/^ok {3}queue-store: Queues run on Postgres/m);
    // DATABASE_POOL_MAX (10, its default) + QUEUE_POOL_MAX (4) + the one LISTEN its workers share.
    const workerConnections = 10 + 4 + 1;
    expect(preflight.stdout).to.match(new RegExp(`^ok {3}queue-connections: max_connections is \\d+ with \\d+ in use; a worker process opens up to ${workerConnections} `, 'm'));
    expect(preflight.stdout, 'no Redis check').to.not.match(/^\S+ +redis/m);
  });

  it('`drumbeat demo` completes without Redis and prints the totals a run on Redis prints', async () => {
    const demo = await runDrumbeat(['demo', '--leads', '12'], env);
    expect(demo.code, demo.stderr).to.equal(0);
    expect(demo.stdout).to.match(/status COMPLETED/);
    const totalsTable = /## Totals\n\n([^#]*)\n## /.exec(demo.stdout)?.[1] ?? '';
    const totals = Object.fromEntries([...totalsTable.matchAll(/^\| (\w+) \| (\d+) \|$/gm)].map(([, metric, count]) => [metric, Number(count)]));
    // What the same demo prints on Redis (test/cli/cli.test.ts): three PROOF sends per lead, nothing else.
    const zero = ['planned', 'pendingReview', 'rejected', 'queued', 'sending', 'sent', 'failed', 'dead', 'skipped', 'unknown', 'replied', 'bounced', 'unsubscribed'];
    expect(totals).to.deep.equal({ leads: 12, messages: 36, sentProof: 36, completed: 12, ...Object.fromEntries(zero.map((metric) => [metric, 0])) });
  });
});
