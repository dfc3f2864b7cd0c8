import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { unsubscribeTokenHash } from '../../src/leads/unsubscribe-service.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, ledger, makeLeads, seedCampaign } from '../support/engine.js';
import type { RunningApp } from '../http/http-harness.js';
import { enrollmentState, isSuppressed, startFeedbackApp } from '../webhooks/webhook-support.js';
import { clockNow, type AnchoredClock } from '../support/clock.js';

describe('one-click unsubscribe (GET/POST /u/:token)', function () {
  this.timeout(20_000);
  let ctx: AppContext;
  let app: RunningApp;
  let clock: AnchoredClock;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    clock = clockNow();
    ctx = engineContext({ clock });
    app = await startFeedbackApp(ctx);
  });

  afterEach(async () => {
    await app.close();
    await ctx.close();
  });

  /**
   * Two campaigns with the same lead, a first message queued in each (by a real tick), and an
   * unsubscribe token on the first campaign's message, stored as its SHA-256 only.
   */
  async function setup(): Promise<{ token: string; first: number; second: number; messageIds: number[] }> {
    const lead = makeLeads(1, 'reader');
    const first = (await seedCampaign(ctx, { leads: lead })).campaignId;
    const second = (await seedCampaign(ctx, { leads: lead })).campaignId;
    await ctx.ticks.runTick(first, clock.now());
    await ctx.ticks.runTick(second, clock.now());
    const messages = (await ctx.db('messages').orderBy('campaign_id').select('id', 'campaign_id')) as Array<{ id: number; campaign_id: number }>;
    expect(messages).to.have.length(2);
    const token = randomBytes(24).toString('base64url');
    await ctx.db('messages').where({ id: messages[0]?.id }).update({ unsubscribe_token_hash: unsubscribeTokenHash(token) });
    return { token, first, second, messageIds: messages.map((message) => message.id) };
  }

  it('GET shows a confirmation page and changes nothing', async () => {
    const { token, first } = await setup();
    const response = await fetch(app.url(`/u/${token}`), { headers: { accept: 'text/html' } });
    expect(response.status).to.equal(200);
    const html = await response.text();
    expect(html).to.include(`action="/u/${token}"`).and.include('method="post"');
    expect(await enrollmentState(ctx, first, 'reader-0@example.com')).to.equal('NEW');
    expect(await isSuppressed(ctx, 'reader-0@example.com')).to.equal(false);
    expect(await ctx.db('unsubscribes').first('id')).to.equal(undefined);
  });

  it('POST unsubscribes with 200, no cookie and no redirect, and the next send to that address is refused in every campaign', async () => {
    const { token, first, second, messageIds } = await setup();
    const response = await fetch(app.url(`/u/${token}`), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(response.status).to.equal(200);
    expect(response.headers.get('set-cookie')).to.equal(null);
    expect(response.headers.get('location')).to.equal(null);
    expect(await isSuppressed(ctx, 'reader-0@example.com')).to.equal(true);
    expect(await enrollmentState(ctx, first, 'reader-0@example.com')).to.equal('UNSUBSCRIBED');
    expect(await enrollmentState(ctx, second, 'reader-0@example.com')).to.equal('UNSUBSCRIBED');

    for (const id of messageIds) {
      const decision = await ctx.sends.send(id, { attemptsMade: 0, attempts: 5 });
      expect(decision.kind, `message ${id}`).to.equal('skipped');
    }
    expect(await ledger(ctx, first)).to.deep.equal({ rows: 0, distinct: 0 });
    expect(await ledger(ctx, second)).to.deep.equal({ rows: 0, distinct: 0 });
    const consent = (await ctx.db('leads').first('consent')) as { consent: string };
    expect(consent.consent).to.equal('WITHDRAWN');

    const again = await fetch(app.url(`/u/${token}`), { method: 'POST' });
    expect(again.status, 'a second click is fine').to.equal(200);
    expect(await ctx.db('unsubscribes').select('id')).to.have.length(1);
  });

  it('refuses a send even when the enrollment is still live: the suppression alone stops it', async () => {
    const { token, first, messageIds } = await setup();
    expect((await fetch(app.url(`/u/${token}`), { method: 'POST' })).status).to.equal(200);
    // Undo the enrollment change only: the suppression must still refuse the send.
    await ctx.db('campaign_leads').where({ campaign_id: first }).update({ state: 'NEW' });
    const decision = await ctx.sends.send(messageIds[0] as number, { attemptsMade: 0, attempts: 5 });
    expect(decision).to.include({ kind: 'skipped' });
    expect((decision as { reason: string }).reason).to.match(/^suppressed/);
  });

  it('a forged or malformed token answers 404 and changes nothing', async () => {
    const { first } = await setup();
    for (const forged of [randomBytes(24).toString('base64url'), 'short', '..%2F..%2Fetc']) {
      const post = await fetch(app.url(`/u/${forged}`), { method: 'POST' });
      const get = await fetch(app.url(`/u/${forged}`));
      expect([post.status, get.status], forged).to.deep.equal([404, 404]);
    }
    expect(await enrollmentState(ctx, first, 'reader-0@example.com')).to.equal('NEW');
    expect(await isSuppressed(ctx, 'reader-0@example.com')).to.equal(false);
  });

  it('a token still works 31 days after the message', async () => {
    const { token, first } = await setup();
    clock.advance(31 * 86_400_000);
    expect((await fetch(app.url(`/u/${token}`), { method: 'POST' })).status).to.equal(200);
    expect(await enrollmentState(ctx, first, 'reader-0@example.com')).to.equal('UNSUBSCRIBED');
  });
});
