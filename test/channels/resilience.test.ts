import { expect } from 'chai';
import { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { readiness } from '../../src/runtime/processes.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { sendXQueue } from '../../queues/send-x.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import { startPlatformServer, type PlatformServer } from './platform-harness.js';
import { startSmtpServer, type SmtpHarness } from './smtp-harness.js';
import { clockOnNext, type AnchoredClock } from '../support/clock.js';
import type { ChannelAdapter } from '../../src/channels/adapter.js';
import { BreakerRegistry, breakerOptions } from '../../src/channels/resilience/breakers.js';
import { guardAdapter } from '../../src/channels/resilience/guarded-adapter.js';
import { createLogger } from '../../src/log/logger.js';
import { testConfig } from '../setup/hooks.js';

const dmSent = { status: 201, body: { data: { dm_conversation_id: 'c', dm_event_id: 'e' } } };
const xSpec = { mode: 'LIVE' as const, steps: [{ channel: 'x' as const, delay: '0s', body: 'Hi <%= it.lead.firstName %>' }] };

describe('limiters, breakers and throttles around LIVE sends', function () {
  this.timeout(30_000);
  let contexts: AppContext[] = [];
  let workers: RunningWorkers[] = [];
  let closers: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
  });

  afterEach(async () => {
    for (const running of workers) await running.close();
    for (const ctx of contexts) await ctx.close();
    for (const close of closers) await close();
    contexts = [];
    workers = [];
    closers = [];
  });

  async function xPlatform(): Promise<PlatformServer> {
    const server = await startPlatformServer(() => dmSent);
    closers.push(() => server.close());
    return server;
  }

  function context(env: Record<string, string>, clock?: AnchoredClock): AppContext {
    const ctx = engineContext({ env, ...(clock === undefined ? {} : { clock }) });
    contexts.push(ctx);
    return ctx;
  }

  it('a 429 with Retry-After pauses the queue for that long and spends no attempt', async () => {
    const server = await xPlatform();
    server.answer(() => ({ status: 429, headers: { 'retry-after': '1' } }), () => dmSent);
    const ctx = context({ X_BEARER_TOKEN: 'x-token-secret', X_API_BASE_URL: server.url, SEND_ATTEMPTS: '1' });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(1), spec: xSpec });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    workers.push(await startWorkers(ctx, undefined, { schedule: false }));
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 1, 'SENT after the rate limit');
    expect(server.requests).to.have.length(2);
    expect(server.requests[1]!.at - server.requests[0]!.at, 'waited for Retry-After').to.be.at.least(950);
    const message = (await ctx.db('messages').where({ campaign_id: campaignId }).first()) as { idempotency_key: string };
    const job = await Job.fromId(ctx.queues.get(sendXQueue), message.idempotency_key);
    // With one attempt allowed, a counted rate limit would have failed the job.
    expect(await job?.getState()).to.equal('completed');
  });

  it('a 5xx storm opens the breaker: calls stop, jobs wait without spending attempts, the half-open trial closes it', async () => {
    const server = await xPlatform();
    server.answer(
      () => ({ status: 503 }),
      () => ({ status: 503 }),
      () => ({ status: 503 }),
      () => dmSent,
    );
    const ctx = context({
      X_BEARER_TOKEN: 'x-token-secret',
      X_API_BASE_URL: server.url,
      SEND_CONCURRENCY: '1',
      SEND_ATTEMPTS: '4',
      BREAKER_VOLUME: '3',
      BREAKER_ERROR_PERCENT: '50',
      BREAKER_RESET: '800ms',
    });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(4), spec: xSpec });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    workers.push(await startWorkers(ctx, undefined, { schedule: false }));

    const open = await eventually(
      async () => (await readiness(ctx)).checks.find((check) => check.name === 'breaker-x:default' && check.message.includes('is open')),
      '/readyz shows the open breaker',
    );
    expect(open.ok, 'an open breaker does not make the API unready').to.equal(true);
    expect(server.requests, 'no call while open').to.have.length(3);
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 4, 'all SENT after half-open');
    expect(server.requests).to.have.length(7);
    expect(server.requests[3]!.at - server.requests[2]!.at, 'the trial waited for the reset timeout').to.be.at.least(700);
    const closed = (await readiness(ctx)).checks.find((check) => check.name === 'breaker-x:default');
    expect(closed?.message).to.include('is closed');
    // Every attempt spent is a call the platform saw: the held jobs spent none.
    const attempts = (await ctx.db('messages').where({ campaign_id: campaignId }).pluck('attempts')) as number[];
    expect(attempts.reduce((sum, count) => sum + count, 0)).to.equal(server.requests.length);
    expect(await ctx.queues.get(sendXQueue).getJobCounts('failed')).to.deep.equal({ failed: 0 });
  });

  it('throttles email per recipient domain across workers: the overflow is delayed to the next minute, never failed', async () => {
    const smtp: SmtpHarness = await startSmtpServer();
    closers.push(() => smtp.close());
    const clock = clockOnNext('mon', '10:00:10');
    const env = { SMTP_URL: smtp.url, EMAIL_DOMAIN_PER_MINUTE: '2', SMTP_TIMEOUT: '2s' };
    const first = context(env, clock);
    const second = context(env, clock);
    const { campaignId } = await seedCampaign(first, { leads: makeLeads(5), spec: { mode: 'LIVE' } });
    await first.ticks.runTick(campaignId, clock.now());
    workers.push(await startWorkers(first, undefined, { schedule: false }), await startWorkers(second, undefined, { schedule: false }));
    await eventually(async () => (await statusCounts(first, campaignId)).SENT === 2 && (await first.queues.get(sendEmailQueue).getDelayedCount()) === 3, '2 sent, 3 delayed');
    const counts = await statusCounts(first, campaignId);
    expect(counts).to.deep.equal({ SENT: 2, QUEUED: 3 });
    expect(await first.queues.get(sendEmailQueue).getJobCounts('failed')).to.deep.equal({ failed: 0 });

    clock.setAt(0, '10:01:05');
    for (const job of await first.queues.get(sendEmailQueue).getJobs(['delayed'])) await job.promote();
    await eventually(async () => (await statusCounts(first, campaignId)).SENT === 4 && (await first.queues.get(sendEmailQueue).getDelayedCount()) === 1, '4 sent');
    clock.setAt(0, '10:02:05');
    for (const job of await first.queues.get(sendEmailQueue).getJobs(['delayed'])) await job.promote();
    await eventually(async () => (await statusCounts(first, campaignId)).SENT === 5, 'all 5 sent');
    expect(smtp.received).to.have.length(5);
    expect(new Set(smtp.received.map((mail) => mail.messageId)).size).to.equal(5);
  });

  it('SEND_TIMEOUT is enforced once, by the adapter guard: the provider call is aborted and the send ends UNKNOWN; the send path adds no timeout of its own', async () => {
    const aborted: number[] = [];
    // Answers after 400 ms, unless its signal aborts first.
    const slow: ChannelAdapter = {
      provider: 'slow-smtp',
      send: (message, sendContext) =>
        new Promise((resolve, reject) => {
          const answer = setTimeout(() => resolve({ provider: 'slow-smtp', externalId: `ext-${message.id}` }), 400);
          sendContext?.signal.addEventListener('abort', () => {
            clearTimeout(answer);
            aborted.push(message.id);
            reject(new Error('aborted'));
          });
        }),
    };
    const config = testConfig({ SEND_TIMEOUT: '100ms' });
    const breakers = new BreakerRegistry(breakerOptions(config), createLogger(config));
    closers.push(() => Promise.resolve(breakers.shutdown()));
    const attempt = { attemptsMade: 0, attempts: 3 };
    async function sendOne(ctx: AppContext): Promise<{ id: number; decision: { kind: string } }> {
      contexts.push(ctx);
      const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(1, `c${contexts.length}`), spec: { mode: 'LIVE' } });
      await ctx.ticks.runTick(campaignId, ctx.clock.now());
      const { id } = (await ctx.db('messages').where({ campaign_id: campaignId }).first('id')) as { id: number };
      return { id, decision: await ctx.sends.send(id, attempt) };
    }

    const unguarded = await sendOne(engineContext({ liveAdapters: { email: slow }, env: { SEND_TIMEOUT: '100ms' } }));
    expect(unguarded.decision.kind, 'a slow answer past SEND_TIMEOUT is not raced by the send path').to.equal('delivered');

    const guarded = await sendOne(engineContext({ liveAdapters: { email: guardAdapter(slow, breakers, 'email', config.SEND_TIMEOUT) }, env: { SEND_TIMEOUT: '100ms' } }));
    expect(guarded.decision).to.deep.equal({ kind: 'unknown', reason: 'AmbiguousSendError: no answer from slow-smtp within 100 ms' });
    expect(aborted, 'the guard aborted the provider call').to.deep.equal([guarded.id]);
    const rows = (await contexts[0]!.db('messages').orderBy('id').select('id', 'status')) as Array<{ id: number; status: string }>;
    expect(rows).to.deep.equal([
      { id: unguarded.id, status: 'SENT' },
      { id: guarded.id, status: 'UNKNOWN' },
    ]);
  });
});
