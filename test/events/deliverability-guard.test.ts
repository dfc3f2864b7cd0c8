import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { signDrumbeat } from '../../src/events/webhook-signatures.js';
import { findCampaign } from '../../src/campaigns/campaign-store.js';
import { guardEventsForCampaign } from '../../src/analytics/guard-report.js';
import { campaignReport } from '../../src/analytics/campaign-report.js';
import { guardBreaches, guardReason, readDeliverability } from '../../src/events/deliverability-guard.js';
import { campaignTickQueue, tickSchedulerId } from '../../queues/campaign-tick.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import { clockNow, type AnchoredClock } from '../support/clock.js';
import type { RunningApp } from '../http/http-harness.js';
import { inboxCounts, startFeedbackApp, webhookSecret } from '../webhooks/webhook-support.js';
import { startSmtpServer, type SmtpHarness } from '../channels/smtp-harness.js';
import type { CampaignSpecInput } from '../../src/campaigns/campaign-spec.js';

const hour = 3_600_000;
const liveTwoSteps: Partial<CampaignSpecInput> = {
  mode: 'LIVE',
  from: { name: 'Ada Lovelace', email: 'ada@drumbeat.example' },
  steps: [
    { channel: 'email', delay: '0s', subject: 'Hello <%= it.lead.firstName %>', body: 'Hi <%= it.lead.firstName %>' },
    { channel: 'email', delay: '1h', body: 'Just bumping this up.' },
  ],
};

describe('deliverability guard', function () {
  this.timeout(60_000);
  let ctx: AppContext;
  let clock: AnchoredClock;
  let app: RunningApp;
  let smtp: SmtpHarness;
  let workers: RunningWorkers | undefined;
  let eventSeq = 0;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    smtp = await startSmtpServer();
    clock = clockNow();
    ctx = engineContext({ clock, env: { WEBHOOK_SECRET: webhookSecret, SMTP_URL: smtp.url, PUBLIC_URL: 'https://drumbeat.example', POSTAL_ADDRESS: '1 Analytical Way, London' } });
    app = await startFeedbackApp(ctx);
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await app.close();
    await ctx.close();
    await smtp.close();
  });

  async function runWorkers(): Promise<void> {
    workers ??= await startWorkers(ctx, undefined, { schedule: false });
  }

  /** Posts one signed event of drumbeat's own format about a lead's message, and waits until every stored event is applied. */
  async function postEvent(type: 'bounced' | 'complained', email: string, messageId: string | null, data: Record<string, unknown> = {}): Promise<void> {
    eventSeq += 1;
    const body = JSON.stringify({ id: `evt-${eventSeq}`, type, occurredAt: clock.now().toISOString(), email, ...(messageId === null ? {} : { messageId }), data });
    const response = await fetch(app.url('/webhooks/events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'drumbeat-signature': signDrumbeat(webhookSecret, body, Math.floor(clock.now().getTime() / 1000)) },
      body,
    });
    expect(response.status).to.equal(200);
    await runWorkers();
    await eventually(async () => {
      const counts = await inboxCounts(ctx);
      return counts.applied === counts.total;
    }, 'every inbox event applied');
  }

  const hardBounce = (message: SentMessage) => postEvent('bounced', message.recipient, message.provider_message_id, { kind: 'hard' });

  interface SentMessage {
    recipient: string;
    provider_message_id: string;
  }

  async function sentMessages(campaignId: number): Promise<SentMessage[]> {
    return (await ctx.db('messages').where({ campaign_id: campaignId, status: 'SENT' }).orderBy('id').select('recipient', 'provider_message_id')) as SentMessage[];
  }

  async function statusOf(campaignId: number) {
    const campaign = await findCampaign(ctx.db, campaignId);
    return { status: campaign?.status, pausedBy: campaign?.pausedBy, pauseReason: campaign?.pauseReason };
  }

  /**
   * A campaign with `sends` SENT email messages an hour old, each with its own lead and Message-ID,
   * as the email channel records them (the test decides the numbers; the SMTP path is proven above).
   */
  async function campaignWithSends(prefix: string, sends: number, spec: Partial<CampaignSpecInput> = {}): Promise<{ campaignId: number; messages: SentMessage[] }> {
    // Running workers could take the new campaign's first scheduled tick before seedCampaign
    // removes it (on Postgres it is a waiting job at once) and write these messages themselves;
    // the next event starts them again.
    await workers?.close();
    workers = undefined;
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(sends, prefix), spec: { ...liveTwoSteps, ...spec } });
    const enrollments = (await ctx.db('campaign_leads as cl')
      .join('leads as l', 'l.id', 'cl.lead_id')
      .where('cl.campaign_id', campaignId)
      .orderBy('cl.id')
      .select('cl.id', 'cl.lead_id', 'l.email')) as Array<{ id: number; lead_id: number; email: string }>;
    await ctx.db('messages').insert(
      enrollments.map((enrollment) => ({
        idempotency_key: `c${campaignId}-l${enrollment.lead_id}-s0`,
        campaign_id: campaignId,
        lead_id: enrollment.lead_id,
        enrollment_id: enrollment.id,
        step_index: 0,
        channel: 'email',
        status: 'SENT',
        recipient: enrollment.email,
        provider_message_id: `<${prefix}-${enrollment.lead_id}@drumbeat.example>`,
        sent_at: new Date(clock.now().getTime() - hour),
      })),
    );
    return { campaignId, messages: await sentMessages(campaignId) };
  }

  it('pauses a LIVE campaign when signed hard-bounce webhooks take it past 5 %, with the numbers, and nothing more is sent until an operator resumes it', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(60), spec: liveTwoSteps });
    await ctx.ticks.runTick(campaignId, clock.now());
    await runWorkers();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 60, 'the first step SENT to 60 leads');
    expect(smtp.received).to.have.length(60);
    const sent = await sentMessages(campaignId);

    for (const message of sent.slice(0, 3)) await hardBounce(message);
    expect(await statusOf(campaignId), '3 in 60 is 5.0 %: not above the line').to.deep.equal({ status: 'ACTIVE', pausedBy: null, pauseReason: null });

    await hardBounce(sent[3]!);
    expect(await statusOf(campaignId)).to.deep.equal({
      status: 'PAUSED',
      pausedBy: 'drumbeat',
      pauseReason: 'Deliverability guard: 4 hard bounces in 60 sends (6.7 %) over 7 days exceeds 5.0 %',
    });
    expect(await guardEventsForCampaign(ctx.db, campaignId)).to.deep.equal([
      { kind: 'hard_bounce', sends: 60, count: 4, rate: 4 / 60, threshold: 0.05, occurredAt: clock.now().toISOString() },
    ]);
    const report = await campaignReport(ctx.db, campaignId);
    expect(report.guardEvents, 'the report says what the guard did').to.deep.equal([
      { at: clock.now().toISOString(), summary: 'paused by the deliverability guard: 4 hard bounces in 60 sends (6.7%) over 7 days exceeds 5.0%' },
    ]);
    expect(report.nextActions.join('\n')).to.include('Deliverability guard: 4 hard bounces');
    const schedulers = await ctx.queues.get(campaignTickQueue).getJobSchedulers();
    expect(schedulers.map((scheduler) => scheduler.key)).to.not.include(tickSchedulerId(campaignId));

    // The follow-ups fall due while it is paused: the tick plans none, nothing reaches the relay.
    clock.set(clock.after(2 * hour));
    expect((await ctx.ticks.runTick(campaignId, clock.now())).outcome).to.equal('not-active');
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ SENT: 60 });
    // A later bounce while PAUSED changes nothing more and records no second guard event.
    await hardBounce(sent[4]!);
    expect(await guardEventsForCampaign(ctx.db, campaignId)).to.have.length(1);
    expect(smtp.received).to.have.length(60);

    // The operator resumes: the follow-ups go to the 55 leads that did not bounce.
    await ctx.campaigns.resume(campaignId);
    await ctx.queues.get(campaignTickQueue).removeJobScheduler(tickSchedulerId(campaignId));
    await ctx.ticks.runTick(campaignId, clock.now());
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 115, 'the follow-ups SENT after the resume');
    expect(smtp.received).to.have.length(115);
  });

  it('does not pause at or below the line, under minSends sends, with guard: off, for sends older than 7 days, nor a PROOF campaign', async () => {
    const atLine = await campaignWithSends('at-line', 60);
    for (const message of atLine.messages.slice(0, 3)) await hardBounce(message);

    const few = await campaignWithSends('few', 40);
    for (const message of few.messages.slice(0, 10)) await hardBounce(message);

    const off = await campaignWithSends('off', 60, { guard: 'off' });
    for (const message of off.messages.slice(0, 10)) await hardBounce(message);

    const proof = await campaignWithSends('proof', 60, { mode: 'PROOF' });
    for (const message of proof.messages.slice(0, 10)) await hardBounce(message);

    const old = await campaignWithSends('old', 60);
    await ctx.db('messages').where({ campaign_id: old.campaignId }).update({ sent_at: new Date(clock.now().getTime() - 8 * 24 * hour) });
    for (const message of old.messages.slice(0, 10)) await hardBounce(message);

    for (const { campaignId } of [atLine, few, off, proof, old]) {
      expect((await statusOf(campaignId)).status, `campaign ${campaignId}`).to.equal('ACTIVE');
      expect(await guardEventsForCampaign(ctx.db, campaignId)).to.deep.equal([]);
    }
  });

  it('counts sends only as far as a breach is still possible, and exactly below that', async () => {
    const { campaignId, messages } = await campaignWithSends('bound', 200);
    const leads = (await ctx.db('messages').where({ campaign_id: campaignId }).orderBy('id').pluck('lead_id')) as number[];
    const bounce = (from: number, to: number) =>
      ctx.db('contact_events').insert(leads.slice(from, to).map((leadId) => ({ lead_id: leadId, campaign_id: campaignId, type: 'bounced_hard', occurred_at: clock.now() })));
    const since = new Date(clock.now().getTime() - 7 * 24 * hour);
    await bounce(0, 9);
    const below = await readDeliverability(ctx.db, campaignId, since);
    expect(below, '9 hard bounces: past 9 / 0.05 + 2 = 182 sends no rate can cross 5 %').to.deep.include({ sends: 182, hardBounces: 9, complaints: 0 });
    expect(guardBreaches(below!)).to.deep.equal([]);
    await bounce(9, 11);
    const above = await readDeliverability(ctx.db, campaignId, since);
    expect(above).to.deep.include({ sends: 200, hardBounces: 11 });
    expect(guardReason(guardBreaches(above!))).to.equal('Deliverability guard: 11 hard bounces in 200 sends (5.5 %) over 7 days exceeds 5.0 %');
    expect(messages).to.have.length(200);
  });

  it('pauses on complaints past the spec’s own rate, counting each complaining address once', async () => {
    const { campaignId, messages } = await campaignWithSends('complaints', 50, { guard: { maxComplaintRate: 0.03, minSends: 20 } });
    const [first, second] = messages as [SentMessage, SentMessage];
    await postEvent('complained', first.recipient, first.provider_message_id);
    // The same address complaining again, through another provider event, is still one address.
    await postEvent('complained', first.recipient, first.provider_message_id);
    expect((await statusOf(campaignId)).status, '1 in 50 is 2 %').to.equal('ACTIVE');
    await postEvent('complained', second.recipient, second.provider_message_id);
    expect(await statusOf(campaignId)).to.deep.equal({
      status: 'PAUSED',
      pausedBy: 'drumbeat',
      pauseReason: 'Deliverability guard: 2 complaints in 50 sends (4.0 %) over 7 days exceeds 3.0 %',
    });
    expect((await guardEventsForCampaign(ctx.db, campaignId)).map((event) => [event.kind, event.count, event.sends, event.threshold])).to.deep.equal([['complaint', 2, 50, 0.03]]);
  });
});
