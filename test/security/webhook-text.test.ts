import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { signDrumbeat } from '../../src/events/webhook-signatures.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, seedCampaign } from '../support/engine.js';
import { clockNow } from '../support/clock.js';
import type { RunningApp } from '../http/http-harness.js';
import { enrollmentState, inboxCounts, isSuppressed, startFeedbackApp, webhookSecret } from '../webhooks/webhook-support.js';

const unix = (date: Date) => Math.floor(date.getTime() / 1000);

describe('signed webhooks are never lost to odd text, depth or a missing Redis', function () {
  this.timeout(30_000);
  let ctx: AppContext;
  let app: RunningApp;
  const closers: Array<() => Promise<void>> = [];
  let workers: RunningWorkers | undefined;
  let campaignId: number;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    ctx = engineContext({ clock: clockNow(), env: { WEBHOOK_SECRET: webhookSecret } });
    app = await startFeedbackApp(ctx);
    ({ campaignId } = await seedCampaign(ctx, { leads: [{ email: 'ada@example.com', firstName: 'Ada' }] }));
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    for (const close of closers.splice(0).reverse()) await close();
    await app.close();
    await ctx.close();
  });

  function post(target: RunningApp, body: string) {
    return fetch(target.url('/webhooks/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'drumbeat-signature': signDrumbeat(webhookSecret, body, unix(ctx.clock.now())) },
      body,
    });
  }

  async function applyAll(): Promise<void> {
    workers ??= await startWorkers(ctx, undefined, { schedule: false });
    await eventually(async () => {
      const counts = await inboxCounts(ctx);
      return counts.total > 0 && counts.applied === counts.total;
    }, 'every inbox event applied');
  }

  it('stores and applies an unsubscribe whose text holds NUL characters and lone surrogates, keeping the exact bytes', async () => {
    const body = `[{"id":"evt-\\ud800-1","type":"unsubscribed","occurredAt":"${ctx.clock.now().toISOString()}","email":"ada@example.com","data":{"note":"a\\u0000b","k\\udfff":"c"}},
                   {"id":"evt-2","type":"opened","occurredAt":"${ctx.clock.now().toISOString()}","email":"ada@example.com"}]`;
    const response = await post(app, body);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ stored: 2, duplicates: 0, deferred: 0 });
    const rows = (await ctx.db('inbox_events').orderBy('id').select('event_id', 'payload', 'raw_body_id')) as Array<{
      event_id: string;
      payload: { data: Record<string, string> };
      raw_body_id: number | null;
    }>;
    expect(rows.map((row) => row.event_id)).to.deep.equal(['evt-\uFFFD-1', 'evt-2']);
    expect(rows[0]?.payload.data).to.deep.equal({ note: 'a\uFFFDb', 'k\uFFFD': 'c' });
    const raw = (await ctx.db('inbox_raw_bodies').where({ id: rows[0]?.raw_body_id }).first('body', 'sha256')) as { body: Buffer; sha256: string };
    expect(raw.body.equals(Buffer.from(body)), 'the body as received').to.equal(true);
    expect(raw.sha256).to.equal(createHash('sha256').update(body).digest('hex'));
    await applyAll();
    expect(await enrollmentState(ctx, campaignId, 'ada@example.com')).to.equal('UNSUBSCRIBED');
    expect(await isSuppressed(ctx, 'ada@example.com')).to.equal(true);
  });

  it('answers 400, storing nothing, for JSON nested 100,000 levels deep', async () => {
    const depth = 100_000;
    const body = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const response = await post(app, body);
    expect(response.status).to.equal(400);
    expect(((await response.json()) as { detail: string }).detail).to.match(/deeper than 64 levels/);
    expect(await inboxCounts(ctx)).to.deep.equal({ total: 0, applied: 0 });
  });

  it('while Redis is down, stores the event and answers 202, never 5xx; the reconciler applies it once Redis answers', async () => {
    const offline = engineContext({ clock: ctx.clock, redisRole: 'http', env: { WEBHOOK_SECRET: webhookSecret, REDIS_URL: 'redis://127.0.0.1:1' } });
    closers.push(() => offline.close());
    const offlineApp = await startFeedbackApp(offline);
    closers.push(() => offlineApp.close());
    const body = JSON.stringify({ id: 'evt-down', type: 'complained', occurredAt: ctx.clock.now().toISOString(), email: 'ada@example.com' });
    const response = await post(offlineApp, body);
    expect(response.status).to.equal(202);
    expect(await response.json()).to.deep.equal({ stored: 1, duplicates: 0, deferred: 1 });
    expect(await inboxCounts(ctx)).to.deep.equal({ total: 1, applied: 0 });
    expect((await ctx.reconciler.reconcile()).requeuedEvents).to.equal(1);
    await applyAll();
    expect(await enrollmentState(ctx, campaignId, 'ada@example.com')).to.equal('UNSUBSCRIBED');
  });
});
