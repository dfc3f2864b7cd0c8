import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { allQueues, sendQueues } from '../../queues/index.js';
import { clockMinute, jobKey, redisKeys } from '../../src/redis/keys.js';
import { publishBreakerState, readBreakerStates } from '../../src/channels/resilience/breaker-states.js';
import { domainThrottle } from '../../src/channels/email/domain-throttle.js';
import { llmBudget } from '../../src/llm/llm-budget.js';
import { readiness } from '../../src/runtime/processes.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { signDrumbeat } from '../../src/events/webhook-signatures.js';
import { webhookRoutes } from '../../src/http/webhooks/webhook-routes.js';
import { resetDatabase, resetRedis, testConfig, testDb, testRun } from '../setup/hooks.js';
import { runPreflight } from '../../src/preflight/preflight.js';
import { campaignReport, type CampaignReport } from '../../src/analytics/campaign-report.js';
import { engineContext, eventually, makeLeads, redisOf, runDrumbeat, seedCampaign, statusCounts } from '../support/engine.js';
import { clockNow, type AnchoredClock } from '../support/clock.js';
import { startRedisCluster, type PrivateRedisCluster } from '../support/redis-topology.js';
import { startApp, type RunningApp } from '../http/http-harness.js';
import { inboxCounts, startFeedbackApp, webhookSecret } from '../webhooks/webhook-support.js';

/**
 * The demo's campaign (`drumbeat demo`: email, LinkedIn 2 s later, email 2 s later, PROOF) for
 * 20 leads, its ticks driven by the clock; resolves with its report once it completed.
 */
async function runDemoSteps(ctx: AppContext, clock: AnchoredClock, name: string): Promise<CampaignReport> {
  const { campaignId } = await seedCampaign(ctx, {
    leads: makeLeads(20, name),
    spec: {
      steps: [
        { channel: 'email', delay: '0s', subject: 'Quick question, <%= it.lead.firstName %>', body: 'Hi <%= it.lead.firstName %>, how is <%= it.lead.company %>?' },
        { channel: 'linkedin', delay: '2s', body: 'Hi <%= it.lead.firstName %>, I sent you an email.' },
        { channel: 'email', delay: '2s', subject: 'Following up', body: 'Hi <%= it.lead.firstName %>, just following up.' },
      ],
    },
  });
  for (let step = 1; step <= 3; step += 1) {
    await ctx.ticks.runTick(campaignId, clock.now());
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 20 * step, `${name}: step ${step} sent`);
    clock.advance(2001);
  }
  expect((await ctx.ticks.runTick(campaignId, clock.now())).outcome).to.equal('completed');
  return campaignReport(ctx.db, campaignId);
}

/** Every node of the private cluster requires it: drumbeat reaches them through REDIS_PASSWORD. */
const password = 'cluster-test-password-0123';

describe('Redis Cluster: a private password-protected three-node cluster runs the engine', function () {
  this.timeout(60_000);
  /** The run's prefix with a hash tag: every key of the run in one slot. */
  const prefix = `{${testRun.queuePrefix}}`;
  let cluster: PrivateRedisCluster;
  let clusterEnv: Record<string, string>;
  let clock: AnchoredClock;
  let ctx: AppContext;
  let workers: RunningWorkers | undefined;
  let app: RunningApp | undefined;

  before(async () => {
    cluster = await startRedisCluster({ password });
    // REDIS_URL '' unsets the run's single-node URL: only one topology may be given.
    clusterEnv = { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.nodes, QUEUE_PREFIX: prefix, REDIS_PASSWORD: password };
  });

  after(async () => {
    await cluster?.stop();
  });

  beforeEach(async () => {
    await resetDatabase();
    await cluster.deleteKeys(redisKeys.everyKey(prefix));
    clock = clockNow();
    ctx = engineContext({ clock, env: { ...clusterEnv, WEBHOOK_SECRET: webhookSecret, FORM_RATE_PER_MINUTE: '2' } });
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await workers?.close();
    workers = undefined;
    await ctx.close();
  });

  it('runs the demo’s three-step PROOF campaign to completion with the report totals of a single-node run', async () => {
    const singleClock = clockNow();
    await resetRedis();
    const single = engineContext({ clock: singleClock });
    let singleWorkers: RunningWorkers | undefined;
    try {
      workers = await startWorkers(ctx, undefined, { schedule: false });
      singleWorkers = await startWorkers(single, undefined, { schedule: false });
      const [onCluster, onSingle] = await Promise.all([runDemoSteps(ctx, clock, 'cluster'), runDemoSteps(single, singleClock, 'single')]);
      expect(onCluster.campaign.status).to.equal('COMPLETED');
      expect(onCluster.totals).to.deep.equal(onSingle.totals);
      expect(onCluster.totals).to.include({ leads: 20, messages: 60, sentProof: 60, completed: 20 });
    } finally {
      await singleWorkers?.close();
      await single.close();
    }
  });

  it('puts every key drumbeat and BullMQ build for the prefix in the slot of its hash tag', async () => {
    const slot = await cluster.keySlot(prefix);
    const minute = clockMinute(clock.now());
    const keys = [
      redisKeys.breakerStates(prefix),
      redisKeys.domainThrottle(prefix, 'example.com', minute),
      redisKeys.llmBudget(prefix, minute),
      redisKeys.formRate(prefix, '192.0.2.7', minute),
      ...allQueues.flatMap((definition) => {
        const queue = ctx.queues.get(definition);
        return [jobKey(queue, 'c1-l1-s0'), queue.toKey('wait'), queue.toKey('meta')];
      }),
    ];
    for (const key of keys) expect(await cluster.keySlot(key), key).to.equal(slot);
  });

  it('runs the breaker states, domain throttle, LLM budget and the reconciler’s job check on the cluster', async () => {
    await publishBreakerState(redisOf(ctx), prefix, { name: 'smtp:default', state: 'open', since: clock.now().toISOString() });
    expect((await readBreakerStates(redisOf(ctx), prefix)).map((state) => `${state.name} ${state.state}`)).to.deep.equal(['smtp:default open']);

    const throttle = domainThrottle(redisOf(ctx), prefix, 1, clock);
    expect(await throttle.take('example.com')).to.equal(undefined);
    expect(await throttle.take('example.com'), 'the second email to the domain in the minute waits').to.be.instanceOf(Date);

    const budget = llmBudget(redisOf(ctx), prefix, { rpm: 1, tpm: 1000 }, clock);
    const reservation = await budget.reserve(100);
    expect(reservation).to.not.equal(undefined);
    if (reservation !== undefined) await budget.settle(reservation, 40);
    expect(await budget.reserve(10), 'one request a minute').to.equal(undefined);

    // Two QUEUED messages whose jobs are gone: the reconciler's pipelined check finds both missing.
    const { campaignId } = await seedCampaign(ctx, { leads: [{ email: 'ada@example.com', firstName: 'Ada' }, { email: 'grace@example.com', firstName: 'Grace' }] });
    await ctx.ticks.runTick(campaignId, clock.now());
    const queue = ctx.queues.get(sendQueues.email);
    await queue.obliterate({ force: true });
    const result = await ctx.reconciler.reconcile();
    expect(result.requeued).to.equal(2);
    const waiting = (await ctx.db('messages').where({ campaign_id: campaignId }).select('idempotency_key')) as Array<{ idempotency_key: string }>;
    for (const { idempotency_key: key } of waiting) expect(await queue.getJob(key), key).to.not.equal(undefined);
    expect((await ctx.reconciler.reconcile()).requeued, 'a job that exists is not added again').to.equal(0);
  });

  it('applies a webhook event once and limits form submissions per IP, on the cluster', async () => {
    app = await startFeedbackApp(ctx);
    await seedCampaign(ctx, { leads: [{ email: 'ada@example.com', firstName: 'Ada' }], spec: { slug: 'cluster-form' } });
    const body = JSON.stringify({ id: 'evt-cluster-1', type: 'opened', occurredAt: clock.now().toISOString(), email: 'ada@example.com' });
    const post = () =>
      fetch(app?.url('/webhooks/events') ?? '', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'drumbeat-signature': signDrumbeat(webhookSecret, body, Math.floor(clock.now().getTime() / 1000)) },
        body,
      });
    expect(await (await post()).json()).to.deep.equal({ stored: 1, duplicates: 0, deferred: 0 });
    expect(await (await post()).json()).to.deep.equal({ stored: 0, duplicates: 1, deferred: 0 });
    workers = await startWorkers(ctx, undefined, { schedule: false });
    await eventually(async () => (await inboxCounts(ctx)).applied === 1, 'the event applied');
    expect(await (await post()).json()).to.deep.equal({ stored: 0, duplicates: 1, deferred: 0 });
    const timeline = (await ctx.db('contact_events').select('type')) as Array<{ type: string }>;
    expect(timeline.map((row) => row.type)).to.deep.equal(['opened']);

    const submit = (email: string) =>
      fetch(app?.url('/forms/cluster-form') ?? '', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
    expect((await submit('o.brien@example.com')).status).to.equal(200);
    expect((await submit('at.t@example.com')).status).to.equal(200);
    expect((await submit('late@example.com')).status, 'the third submission in a minute').to.equal(429);
  });

  it('/readyz names the cluster and its nodes', async () => {
    app = await startApp({ config: ctx.config, db: testDb(), readiness: () => readiness(ctx) });
    const response = await fetch(app.url('/readyz'));
    expect(response.status).to.equal(200);
    const { checks } = (await response.json()) as { checks: Array<{ name: string; ok: boolean; message: string }> };
    expect(checks.find((check) => check.name === 'redis')).to.deep.equal({
      name: 'redis',
      ok: true,
      message: `Redis Cluster through ${cluster.nodes} answers: a Redis Cluster of 3 nodes (3 primaries, 0 replicas).`,
    });
    expect(checks.find((check) => check.name === 'redis-eviction')?.message).to.equal('Redis maxmemory-policy is noeviction on every primary.');
  });

  it('refuses a cluster node given as REDIS_URL, and a plain server given as REDIS_CLUSTER_NODES, with one sentence each', async () => {
    const [firstNode] = cluster.nodes.split(',');
    const asSingle = await runPreflight(testConfig({ REDIS_URL: `redis://${firstNode}`, QUEUE_PREFIX: prefix, REDIS_PASSWORD: password }), testDb());
    expect(asSingle.checks.find((check) => check.name === 'redis')).to.deep.equal({
      name: 'redis',
      ok: false,
      message: "REDIS_URL points at a Redis Cluster node; give the cluster's nodes in REDIS_CLUSTER_NODES instead (with a {hash-tag} in QUEUE_PREFIX).",
    });
    const plain = new URL(testRun.redisUrl).host;
    const asCluster = await runPreflight(testConfig({ REDIS_URL: '', REDIS_CLUSTER_NODES: plain, QUEUE_PREFIX: prefix }), testDb());
    expect(asCluster.checks.find((check) => check.name === 'redis')?.message).to.equal(
      `REDIS_CLUSTER_NODES names ${plain}, which is not a Redis Cluster node (cluster support disabled); use REDIS_URL for a single server.`,
    );
    // The issue's own attempt: `drumbeat demo` against one node of the cluster stops before writing anything.
    const demo = await runDrumbeat(['demo', '--leads', '5'], { REDIS_URL: `redis://${firstNode}`, QUEUE_PREFIX: prefix, REDIS_PASSWORD: password });
    expect(demo.code).to.equal(1);
    expect(demo.stderr).to.equal("drumbeat: REDIS_URL points at a Redis Cluster node; give the cluster's nodes in REDIS_CLUSTER_NODES instead (with a {hash-tag} in QUEUE_PREFIX).\n");
    expect(await ctx.db('campaigns').count('* as n')).to.deep.equal([{ n: 0 }]);
  });

  it('while no cluster node answers: 503 at once to a route that enqueues, changing nothing; 202 to a webhook, stored for the reconciler', async () => {
    const offline = engineContext({
      clock,
      redisRole: 'http',
      db: testDb(),
      env: { REDIS_URL: '', REDIS_CLUSTER_NODES: '127.0.0.1:1,127.0.0.1:2', QUEUE_PREFIX: prefix, WEBHOOK_SECRET: webhookSecret },
    });
    try {
      app = await startApp({ config: offline.config, apiRoutes: (router) => apiRoutes(router, offline), webhookRoutes: (router) => webhookRoutes(router, offline) });
      const { token } = await createApiToken(testDb(), 'ops');
      const { campaignId } = await seedCampaign(ctx, { start: false });
      await ctx.campaigns.approve(campaignId, null, 'test');
      const response = await fetch(app.url(`/api/campaigns/${campaignId}/start`), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(response.status).to.equal(503);
      expect(response.headers.get('retry-after')).to.equal('5');
      expect((await ctx.campaigns.require(campaignId)).status).to.equal('DRAFT');

      const body = JSON.stringify({ id: 'evt-offline-1', type: 'opened', occurredAt: clock.now().toISOString(), email: 'lead-0@example.com' });
      const webhook = await fetch(app.url('/webhooks/events'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'drumbeat-signature': signDrumbeat(webhookSecret, body, Math.floor(clock.now().getTime() / 1000)) },
        body,
      });
      expect(webhook.status).to.equal(202);
      expect(await webhook.json()).to.deep.equal({ stored: 1, duplicates: 0, deferred: 1 });
      expect(await inboxCounts(ctx)).to.deep.equal({ total: 1, applied: 0 });
    } finally {
      await offline.close();
    }
  });
});
