import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { signDrumbeat } from '../../src/events/webhook-signatures.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, seedCampaign } from '../support/engine.js';
import type { RunningApp } from '../http/http-harness.js';
import {
  enrollmentState,
  fixture,
  inboxCounts,
  isSuppressed,
  mailgunKey,
  sendgridKeys,
  sendgridSignature,
  startFeedbackApp,
  webhookSecret,
} from './webhook-support.js';
import { clockNow, type AnchoredClock } from '../support/clock.js';

const unix = (date: Date) => Math.floor(date.getTime() / 1000);
const twoSteps = {
  steps: [
    { channel: 'email' as const, delay: '0s', subject: 'Hi', body: 'One' },
    { channel: 'email' as const, delay: '1d', subject: 'Again', body: 'Two' },
  ],
};
const fixtureLeads = ['ada@example.com', 'grace.hopper@navy.example', 'linus@kernel.example', 'margaret@apollo.example', 'barbara@liskov.example', 'ken@bell.example'].map(
  (email) => ({ email, firstName: email.split('@')[0] ?? null }),
);

describe('provider webhooks: verify first, store once, apply once', function () {
  this.timeout(30_000);
  const keys = sendgridKeys();
  let ctx: AppContext;
  let app: RunningApp;
  let clock: AnchoredClock;
  let workers: RunningWorkers | undefined;
  let campaignId: number;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    clock = clockNow();
    ctx = engineContext({
      clock,
      env: { WEBHOOK_SECRET: webhookSecret, MAILGUN_SIGNING_KEY: mailgunKey, SENDGRID_WEBHOOK_PUBLIC_KEY: keys.publicKeyBase64, WEBHOOK_BODY_LIMIT: '8kb' },
    });
    app = await startFeedbackApp(ctx);
    ({ campaignId } = await seedCampaign(ctx, { leads: fixtureLeads, spec: twoSteps }));
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await app.close();
    await ctx.close();
  });

  async function applyAll(): Promise<void> {
    workers ??= await startWorkers(ctx, undefined, { schedule: false });
    await eventually(async () => {
      const counts = await inboxCounts(ctx);
      return counts.total > 0 && counts.applied === counts.total;
    }, 'every inbox event applied');
  }

  /** A message of the campaign to the lead, carrying our Message-ID, as the email channel records it. */
  async function sentMessage(email: string, providerMessageId: string, externalId: string | null = null): Promise<number> {
    const enrollment = (await ctx.db('campaign_leads as cl')
      .join('leads as l', 'l.id', 'cl.lead_id')
      .where({ 'cl.campaign_id': campaignId, 'l.email': email })
      .first('cl.id', 'cl.lead_id')) as { id: number; lead_id: number };
    const [row] = (await ctx.db('messages')
      .insert({
        idempotency_key: `c${campaignId}-l${enrollment.lead_id}-s0`,
        campaign_id: campaignId,
        lead_id: enrollment.lead_id,
        enrollment_id: enrollment.id,
        step_index: 0,
        channel: 'email',
        status: 'SENT',
        recipient: email,
        provider_message_id: providerMessageId,
        external_id: externalId,
      })
      .returning('id')) as Array<{ id: number }>;
    return (row as { id: number }).id;
  }

  function postSigned(path: string, body: string | Buffer, options: { t?: number; secret?: string; contentType?: string; signature?: string } = {}) {
    const t = options.t ?? unix(clock.now());
    return fetch(app.url(path), {
      method: 'POST',
      headers: {
        'content-type': options.contentType ?? 'application/json',
        'drumbeat-signature': options.signature ?? signDrumbeat(options.secret ?? webhookSecret, body, t),
      },
      body,
    });
  }

  describe('POST /webhooks/events (drumbeat format)', () => {
    const event = (overrides: Record<string, unknown> = {}) =>
      JSON.stringify({ id: 'evt-1', type: 'opened', occurredAt: clock.anchor.toISOString(), email: 'ada@example.com', ...overrides });

    it('stores a valid event once, applies it once, and acknowledges a duplicate delivery without storing it again', async () => {
      const first = await postSigned('/webhooks/events', event());
      expect(first.status).to.equal(200);
      expect(await first.json()).to.deep.equal({ stored: 1, duplicates: 0, deferred: 0 });
      const again = await postSigned('/webhooks/events', event());
      expect(again.status).to.equal(200);
      expect(await again.json()).to.deep.equal({ stored: 0, duplicates: 1, deferred: 0 });
      await applyAll();
      expect(await inboxCounts(ctx)).to.deep.equal({ total: 1, applied: 1 });
      const third = await postSigned('/webhooks/events', event());
      expect(await third.json()).to.deep.equal({ stored: 0, duplicates: 1, deferred: 0 });
      const timeline = (await ctx.db('contact_events').select('type')) as Array<{ type: string }>;
      expect(timeline.map((row) => row.type)).to.deep.equal(['opened']);
    });

    it('turns a reply into REPLIED and stops the sequence: the next step is never created', async () => {
      await sentMessage('ada@example.com', '<drumbeat-msg-1@drumbeat.example>');
      const response = await postSigned('/webhooks/events', event({ id: 'evt-reply', type: 'replied', messageId: 'drumbeat-msg-1@drumbeat.example' }));
      expect(response.status).to.equal(200);
      await applyAll();
      expect(await enrollmentState(ctx, campaignId, 'ada@example.com')).to.equal('REPLIED');
      clock.advance(2 * 86_400_000);
      await ctx.ticks.runTick(campaignId, clock.now());
      const adaMessages = (await ctx.db('messages').where({ recipient: 'ada@example.com' }).select('step_index')) as unknown[];
      expect(adaMessages, 'no new message for the lead who replied').to.have.length(1);
      const kenMessages = (await ctx.db('messages as m').join('leads as l', 'l.id', 'm.lead_id').where('l.email', 'ken@bell.example').select('m.id')) as unknown[];
      expect(kenMessages, 'other leads continue').to.have.length(1);
    });

    it('refuses a bad signature, a stale timestamp, a re-serialised body and a missing header with 401, storing nothing', async () => {
      const body = JSON.stringify([JSON.parse(event()) as unknown], null, 2);
      const wrongSecret = await postSigned('/webhooks/events', body, { secret: 'not-the-secret' });
      const stale = await postSigned('/webhooks/events', body, { t: unix(clock.now()) - 301 });
      const future = await postSigned('/webhooks/events', body, { t: unix(clock.now()) + 301 });
      const reserialised = await postSigned('/webhooks/events', JSON.stringify(JSON.parse(body)), { signature: signDrumbeat(webhookSecret, body, unix(clock.now())) });
      const missing = await fetch(app.url('/webhooks/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect([wrongSecret.status, stale.status, future.status, reserialised.status, missing.status]).to.deep.equal([401, 401, 401, 401, 401]);
      expect(await inboxCounts(ctx)).to.deep.equal({ total: 0, applied: 0 });
      const fresh = await postSigned('/webhooks/events', body, { t: unix(clock.now()) - 299 });
      expect(fresh.status, 'inside the ±5 minute window').to.equal(200);
    });

    it('answers 400 to a signed but malformed body and 413 to an oversized one, storing nothing', async () => {
      const notJson = await postSigned('/webhooks/events', '{"id": ');
      const badShape = await postSigned('/webhooks/events', event({ type: 'bounced' }));
      const oversized = await postSigned('/webhooks/events', JSON.stringify({ padding: 'x'.repeat(9000) }));
      expect([notJson.status, badShape.status, oversized.status]).to.deep.equal([400, 400, 413]);
      expect(await inboxCounts(ctx)).to.deep.equal({ total: 0, applied: 0 });
    });

    it('counts soft bounces and suppresses on the third in a row; a delivery in between restarts the count', async () => {
      const at = (minute: number) => new Date(clock.anchor.getTime() + minute * 60_000).toISOString();
      const soft = (id: string, minute: number) => event({ id, type: 'bounced', occurredAt: at(minute), data: { kind: 'soft' } });
      await postSigned('/webhooks/events', event({ id: 'd1', type: 'delivered', occurredAt: at(2) }));
      await applyAll();
      // Delivered late and out of order, as providers do: "in a row" follows when they happened,
      // so the two bounces from before the delivery do not count.
      await postSigned('/webhooks/events', soft('s4', 4));
      await postSigned('/webhooks/events', soft('s1', 1));
      await postSigned('/webhooks/events', soft('s2', 0));
      await postSigned('/webhooks/events', soft('s3', 3));
      await applyAll();
      expect(await isSuppressed(ctx, 'ada@example.com'), 'two in a row after a delivery').to.equal(false);
      expect(await enrollmentState(ctx, campaignId, 'ada@example.com')).to.equal('NEW');
      await postSigned('/webhooks/events', soft('s5', 5));
      await applyAll();
      expect(await isSuppressed(ctx, 'ada@example.com')).to.equal(true);
      expect(await enrollmentState(ctx, campaignId, 'ada@example.com')).to.equal('BOUNCED');
    });

    it('suppresses on a hard bounce (BOUNCED), a complaint and an unsubscribe (UNSUBSCRIBED), in every campaign', async () => {
      const other = await seedCampaign(ctx, { leads: fixtureLeads.slice(0, 3), spec: twoSteps });
      const body = JSON.stringify([
        { id: 'h1', type: 'bounced', occurredAt: clock.anchor.toISOString(), email: 'ada@example.com', data: { kind: 'hard' } },
        { id: 'c1', type: 'complained', occurredAt: clock.anchor.toISOString(), email: 'grace.hopper@navy.example' },
        { id: 'u1', type: 'unsubscribed', occurredAt: clock.anchor.toISOString(), email: 'LINUS@kernel.example' },
      ]);
      expect((await postSigned('/webhooks/events', body)).status).to.equal(200);
      await applyAll();
      for (const id of [campaignId, other.campaignId]) {
        expect(await enrollmentState(ctx, id, 'ada@example.com')).to.equal('BOUNCED');
        expect(await enrollmentState(ctx, id, 'grace.hopper@navy.example')).to.equal('UNSUBSCRIBED');
        expect(await enrollmentState(ctx, id, 'linus@kernel.example')).to.equal('UNSUBSCRIBED');
      }
      for (const email of ['ada@example.com', 'grace.hopper@navy.example', 'linus@kernel.example']) expect(await isSuppressed(ctx, email)).to.equal(true);
      const unsubscribes = (await ctx.db('unsubscribes').orderBy('source').select('source')) as Array<{ source: string }>;
      expect(unsubscribes.map((row) => row.source)).to.deep.equal(['complaint', 'provider']);
    });
  });

  describe('POST /webhooks/sendgrid', () => {
    const raw = fixture('sendgrid-events.json');
    const post = (body: Buffer | string, timestamp = String(unix(clock.now())), signature = sendgridSignature(keys.privateKey, timestamp, body)) =>
      fetch(app.url('/webhooks/sendgrid'), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-twilio-email-event-webhook-signature': signature,
          'x-twilio-email-event-webhook-timestamp': timestamp,
        },
        body,
      });

    it('verifies the ECDSA signature, stores the batch once and applies bounces, complaints and unsubscribes', async () => {
      const response = await post(raw);
      expect(response.status).to.equal(200);
      expect(await response.json()).to.deep.equal({ stored: 9, duplicates: 0, deferred: 0 });
      const duplicate = await post(raw);
      expect(await duplicate.json()).to.deep.equal({ stored: 0, duplicates: 9, deferred: 0 });
      await applyAll();
      expect(await inboxCounts(ctx)).to.deep.equal({ total: 9, applied: 9 });
      expect(await enrollmentState(ctx, campaignId, 'grace.hopper@navy.example'), 'hard bounce').to.equal('BOUNCED');
      expect(await enrollmentState(ctx, campaignId, 'ken@bell.example'), 'dropped: bounced address').to.equal('BOUNCED');
      expect(await enrollmentState(ctx, campaignId, 'margaret@apollo.example'), 'spam report').to.equal('UNSUBSCRIBED');
      expect(await enrollmentState(ctx, campaignId, 'barbara@liskov.example'), 'unsubscribe').to.equal('UNSUBSCRIBED');
      expect(await enrollmentState(ctx, campaignId, 'linus@kernel.example'), 'a block is a soft bounce').to.equal('NEW');
      expect(await enrollmentState(ctx, campaignId, 'ada@example.com')).to.equal('NEW');
      const linus = (await ctx.db('campaign_leads as cl').join('leads as l', 'l.id', 'cl.lead_id').where('l.email', 'linus@kernel.example').first('soft_bounces')) as {
        soft_bounces: number;
      };
      expect(linus.soft_bounces).to.equal(1);
      for (const email of ['grace.hopper@navy.example', 'ken@bell.example', 'margaret@apollo.example', 'barbara@liskov.example']) {
        expect(await isSuppressed(ctx, email), email).to.equal(true);
      }
      const adaTimeline = (await ctx.db('contact_events as e').join('leads as l', 'l.id', 'e.lead_id').where('l.email', 'ada@example.com').orderBy('e.occurred_at').select('e.type')) as Array<{
        type: string;
      }>;
      expect(adaTimeline.map((row) => row.type)).to.deep.equal(['processed', 'delivered', 'opened', 'clicked']);
    });

    it('refuses a bad signature, a stale timestamp and a re-serialised body with 401, storing nothing; 413 when oversized', async () => {
      const stamp = String(unix(clock.now()));
      const forged = await post(raw, stamp, sendgridSignature(sendgridKeys().privateKey, stamp, raw));
      const staleStamp = String(unix(clock.now()) - 600);
      const stale = await post(raw, staleStamp);
      const reserialised = await post(JSON.stringify(JSON.parse(raw.toString())), stamp, sendgridSignature(keys.privateKey, stamp, raw));
      const oversized = await post(Buffer.alloc(9000, 0x20));
      expect([forged.status, stale.status, reserialised.status, oversized.status]).to.deep.equal([401, 401, 401, 413]);
      expect(await inboxCounts(ctx)).to.deep.equal({ total: 0, applied: 0 });
    });
  });

  describe('POST /webhooks/mailgun', () => {
    const template = JSON.parse(fixture('mailgun-event.json').toString()) as {
      signature: { timestamp: string; token: string; signature: string };
      'event-data': Record<string, unknown>;
    };
    function mailgunBody(options: { token?: string; eventId?: string; timestamp?: string; key?: string } = {}): string {
      const timestamp = options.timestamp ?? String(unix(clock.now()));
      const token = options.token ?? `tok-${Math.random().toString(36).slice(2)}`;
      const signature = createHmac('sha256', options.key ?? mailgunKey).update(timestamp + token).digest('hex');
      return JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': { ...template['event-data'], id: options.eventId ?? template['event-data'].id } });
    }
    const post = (body: string) => fetch(app.url('/webhooks/mailgun'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });

    it('applies a permanent failure as a hard bounce once; a redelivery with a fresh token is a duplicate', async () => {
      await sentMessage('grace.hopper@navy.example', 'drumbeat-msg-2@drumbeat.example');
      expect((await post(mailgunBody())).status).to.equal(200);
      const redelivery = await post(mailgunBody());
      expect(await redelivery.json()).to.deep.equal({ stored: 0, duplicates: 1, deferred: 0 });
      await applyAll();
      expect(await inboxCounts(ctx)).to.deep.equal({ total: 1, applied: 1 });
      expect(await enrollmentState(ctx, campaignId, 'grace.hopper@navy.example')).to.equal('BOUNCED');
      expect(await isSuppressed(ctx, 'grace.hopper@navy.example')).to.equal(true);
      const timeline = (await ctx.db('contact_events').select('type', 'message_id')) as Array<{ type: string; message_id: number | null }>;
      expect(timeline).to.have.length(1);
      expect(timeline[0]?.type).to.equal('bounced_hard');
      expect(timeline[0]?.message_id, 'matched by our Message-ID').to.be.a('number');
    });

    it('refuses a replayed token, a bad signature and a stale timestamp with 401, storing nothing; 413 when oversized', async () => {
      expect((await post(mailgunBody({ token: 'tok-once' }))).status).to.equal(200);
      const replay = await post(mailgunBody({ token: 'tok-once', eventId: 'another-event' }));
      const forged = await post(mailgunBody({ key: 'wrong-key', eventId: 'forged' }));
      const stale = await post(mailgunBody({ timestamp: String(unix(clock.now()) - 3600), eventId: 'stale' }));
      const oversized = await post(JSON.stringify({ padding: 'x'.repeat(9000) }));
      expect([replay.status, forged.status, stale.status, oversized.status]).to.deep.equal([401, 401, 401, 413]);
      expect((await inboxCounts(ctx)).total, 'only the first delivery').to.equal(1);
    });
  });

  describe('POST /webhooks/inbound', () => {
    it('matches a MIME reply to our Message-ID through In-Reply-To: REPLIED once, even when delivered twice', async () => {
      await sentMessage('ada@example.com', '<drumbeat-msg-1@drumbeat.example>');
      const mail = fixture('inbound-reply.eml');
      expect((await postSigned('/webhooks/inbound', mail, { contentType: 'message/rfc822' })).status).to.equal(200);
      const again = await postSigned('/webhooks/inbound', mail, { contentType: 'message/rfc822' });
      expect(await again.json()).to.deep.equal({ stored: 0, duplicates: 1, deferred: 0 });
      await applyAll();
      expect(await enrollmentState(ctx, campaignId, 'ada@example.com')).to.equal('REPLIED');
      const events = (await ctx.db('contact_events').select('type', 'message_id')) as Array<{ type: string; message_id: number | null }>;
      expect(events).to.have.length(1);
      expect(events[0]?.type).to.equal('replied');
      expect(events[0]?.message_id).to.be.a('number');
    });

    it('records an out-of-office auto-reply on the timeline without stopping the sequence', async () => {
      await sentMessage('linus@kernel.example', 'drumbeat-msg-3@drumbeat.example');
      expect((await postSigned('/webhooks/inbound', fixture('inbound-autoreply.eml'), { contentType: 'message/rfc822' })).status).to.equal(200);
      await applyAll();
      expect(await enrollmentState(ctx, campaignId, 'linus@kernel.example')).to.equal('NEW');
      const events = (await ctx.db('contact_events').select('type')) as Array<{ type: string }>;
      expect(events.map((row) => row.type)).to.deep.equal(['auto_replied']);
    });

    it('falls back to the sender address for a JSON reply with no known Message-ID', async () => {
      const body = JSON.stringify({ from: 'Ken Thompson <Ken@Bell.example>', subject: 'Re: hello', messageId: '<r-1@bell.example>', text: 'Sure' });
      expect((await postSigned('/webhooks/inbound', body)).status).to.equal(200);
      await applyAll();
      expect(await enrollmentState(ctx, campaignId, 'ken@bell.example')).to.equal('REPLIED');
    });

    it('refuses an unsigned, re-signed-with-another-secret or stale reply with 401 and 413 when oversized, storing nothing', async () => {
      const mail = fixture('inbound-reply.eml');
      const forged = await postSigned('/webhooks/inbound', mail, { contentType: 'message/rfc822', secret: 'nope' });
      const stale = await postSigned('/webhooks/inbound', mail, { contentType: 'message/rfc822', t: unix(clock.now()) - 3600 });
      const tampered = await postSigned('/webhooks/inbound', Buffer.concat([mail, Buffer.from('\n')]), {
        contentType: 'message/rfc822',
        signature: signDrumbeat(webhookSecret, mail, unix(clock.now())),
      });
      const oversized = await postSigned('/webhooks/inbound', Buffer.alloc(9000, 0x41), { contentType: 'message/rfc822' });
      expect([forged.status, stale.status, tampered.status, oversized.status]).to.deep.equal([401, 401, 401, 413]);
      expect(await inboxCounts(ctx)).to.deep.equal({ total: 0, applied: 0 });
    });
  });
});
