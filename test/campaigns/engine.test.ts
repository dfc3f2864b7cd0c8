import { expect } from 'chai';
import { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { enqueueSends } from '../../src/messages/enqueue-sends.js';
import { suppress } from '../../src/suppression/suppression-service.js';
import { setKillSwitch } from '../../src/settings/kill-switch.js';
import { markReplied } from '../../src/enrollments/enrollment-lifecycle.js';
import { campaignReport } from '../../src/analytics/campaign-report.js';
import { eventually, freshEngineWithClock, ledger, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';

describe('campaign engine', function () {
  this.timeout(30_000);
  const engine = freshEngineWithClock();
  const { clock } = engine;
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));
  const run = () => engine.startWorkers();

  it('sends each step of the sequence once per lead, waits the step delay, then completes the campaign', async () => {
    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(20),
      spec: {
        steps: [
          { channel: 'email', delay: '0s', subject: 'Hi <%= it.lead.firstName %>', body: 'One' },
          { channel: 'linkedin', delay: '1h', body: 'Two <%= it.lead.company %>' },
        ],
      },
    });
    await run();
    await ctx.ticks.runTick(campaignId, clock.now());
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 20, '20 first-step sends');

    clock.advance(30 * 60_000);
    const early = await ctx.ticks.runTick(campaignId, clock.now());
    expect(early.created, 'no second step before its delay').to.equal(0);

    clock.advance(31 * 60_000);
    const due = await ctx.ticks.runTick(campaignId, clock.now());
    expect(due.created).to.equal(20);
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 40, '40 sends');

    const final = await ctx.ticks.runTick(campaignId, new Date(clock.now().getTime() + 1));
    expect(final.outcome).to.equal('completed');
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 40, distinct: 40 });
    const body = (await ctx.db('messages').where({ campaign_id: campaignId, step_index: 1 }).first('body')) as { body: string };
    expect(body.body).to.equal('Two Acme');
    const report = await campaignReport(ctx.db, campaignId);
    expect(report.totals).to.include({ leads: 20, messages: 40, sentProof: 40, completed: 20 });
    expect(report.campaign.status).to.equal('COMPLETED');
  });

  it('creates one message per lead and step even when ticks overlap', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(300) });
    const slots = [0, 1, 2, 3].map((offset) => new Date(clock.now().getTime() + offset));
    const results = await Promise.all(slots.map((slot) => ctx.ticks.runTick(campaignId, slot)));
    expect(results.reduce((sum, result) => sum + result.created, 0)).to.equal(300);
    const again = await ctx.ticks.runTick(campaignId, slots[0] as Date);
    expect(again.outcome, 'a slot already run is not run again').to.equal('duplicate-slot');
    const [{ count }] = (await ctx.db('messages').where({ campaign_id: campaignId }).count('* as count')) as [{ count: number }];
    expect(count).to.equal(300);
    const counts = await ctx.queues.get(sendEmailQueue).getJobCounts('waiting', 'delayed', 'active');
    expect((counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0)).to.equal(300);
  });

  it('never hands a suppressed address or domain to an adapter', async () => {
    const { campaignId } = await seedCampaign(ctx, {
      leads: [
        ...makeLeads(3),
        { email: 'blocked@example.com', firstName: 'B' },
        { email: 'someone@blocked-domain.test', firstName: 'D' },
      ],
    });
    await suppress(ctx.db, 'Blocked@Example.com', { reason: 'asked' });
    await suppress(ctx.db, '@blocked-domain.test', { reason: 'competitor' });
    await run();
    await ctx.ticks.runTick(campaignId, clock.now());
    await eventually(async () => {
      const counts = await statusCounts(ctx, campaignId);
      return counts.SENT_PROOF === 3 && counts.SKIPPED === 2;
    }, '3 sent and 2 skipped');
    const recipients = ((await ctx.db('proof_deliveries').select('recipient')) as Array<{ recipient: string }>).map((row) => row.recipient);
    expect(recipients).to.not.include('blocked@example.com');
    expect(recipients).to.not.include('someone@blocked-domain.test');
    const states = (await ctx.db('campaign_leads').where({ state: 'SUPPRESSED' }).count('* as count')) as [{ count: number }];
    expect(states[0].count).to.equal(2);
  });

  it('suppression added after queueing still stops the send (gate re-checked at send time)', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(2) });
    await ctx.ticks.runTick(campaignId, clock.now());
    await suppress(ctx.db, 'lead-0@example.com');
    await run();
    await eventually(async () => {
      const counts = await statusCounts(ctx, campaignId);
      return counts.SENT_PROOF === 1 && counts.SKIPPED === 1;
    }, 'one sent, one skipped');
    expect((await ledger(ctx, campaignId)).rows).to.equal(1);
  });

  it('a DRAFT campaign never sends, even with a job added by hand', async () => {
    const { campaignId } = await seedCampaign(ctx, { start: false });
    const tick = await ctx.ticks.runTick(campaignId, clock.now());
    expect(tick.outcome).to.equal('not-active');
    const enrollment = (await ctx.db('campaign_leads').where({ campaign_id: campaignId }).first()) as { id: number; lead_id: number };
    const [message] = (await ctx.db('messages')
      .insert({
        idempotency_key: `c${campaignId}-l${enrollment.lead_id}-s0`,
        campaign_id: campaignId,
        lead_id: enrollment.lead_id,
        enrollment_id: enrollment.id,
        step_index: 0,
        channel: 'email',
        status: 'QUEUED',
        recipient: 'lead-0@example.com',
        body: 'forced',
      })
      .returning(['id', 'idempotency_key', 'channel'])) as Array<{ id: number; idempotency_key: string; channel: 'email' }>;
    await enqueueSends(ctx.queues, ctx.config, [message!]);
    await run();
    const job = await eventually(async () => {
      const found = await Job.fromId(ctx.queues.get(sendEmailQueue), message!.idempotency_key);
      return found !== undefined && (await found.getState()) === 'delayed' ? found : undefined;
    }, 'the forced job to be held');
    expect(job.id).to.equal(message!.idempotency_key);
    expect((await ledger(ctx, campaignId)).rows).to.equal(0);
  });

  it('never sends a PENDING_REVIEW message, even when its job is forced', async () => {
    const { campaignId } = await seedCampaign(ctx, { spec: { requireReview: true }, leads: makeLeads(3) });
    const tick = await ctx.ticks.runTick(campaignId, clock.now());
    expect(tick.heldForReview).to.equal(3);
    expect(tick.enqueued).to.equal(0);
    const held = (await ctx.db('messages').where({ campaign_id: campaignId })) as Array<{ id: number; idempotency_key: string; channel: 'email' }>;
    await enqueueSends(ctx.queues, ctx.config, held);
    await run();
    await eventually(async () => (await ctx.queues.get(sendEmailQueue).getJobCounts('completed')).completed === 3, 'forced jobs to finish');
    expect((await statusCounts(ctx, campaignId)).PENDING_REVIEW).to.equal(3);
    expect((await ledger(ctx, campaignId)).rows).to.equal(0);
  });

  it('pause holds queued sends and resume sends them once', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(10) });
    await ctx.ticks.runTick(campaignId, clock.now());
    await ctx.campaigns.pause(campaignId);
    await run();
    await eventually(async () => (await ctx.queues.get(sendEmailQueue).getJobCounts('delayed')).delayed === 10, 'all 10 held');
    expect((await ledger(ctx, campaignId)).rows).to.equal(0);
    expect((await statusCounts(ctx, campaignId)).QUEUED).to.equal(10);
    expect((await ctx.ticks.runTick(campaignId, new Date(clock.now().getTime() + 5))).outcome).to.equal('not-active');

    await ctx.campaigns.resume(campaignId);
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 10, 'all sent after resume');
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 10, distinct: 10 });
  });

  it('the kill switch stops every adapter call and is reversible', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(10) });
    await ctx.ticks.runTick(campaignId, clock.now());
    await setKillSwitch(ctx, true, 'test');
    expect((await ctx.ticks.runTick(campaignId, new Date(clock.now().getTime() + 1))).outcome).to.equal('killed');
    await ctx.queues.get(sendEmailQueue).resume();
    await run();
    await eventually(async () => (await ctx.queues.get(sendEmailQueue).getJobCounts('delayed')).delayed === 10, 'all 10 held');
    expect((await ledger(ctx, campaignId)).rows).to.equal(0);

    await setKillSwitch(ctx, false, 'test');
    for (const job of await ctx.queues.get(sendEmailQueue).getJobs(['delayed'])) await job.promote();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 10, 'all sent after the kill switch is off');
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 10, distinct: 10 });
  });

  it('stops the sequence for a lead who replied', async () => {
    const { campaignId, leadIds } = await seedCampaign(ctx, {
      leads: makeLeads(3),
      spec: {
        steps: [
          { channel: 'email', delay: '0s', subject: 'Hi', body: 'One' },
          { channel: 'email', delay: '1m', body: 'Two' },
        ],
      },
    });
    await run();
    await ctx.ticks.runTick(campaignId, clock.now());
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 3, 'first step sent');
    expect(await markReplied(ctx.db, campaignId, leadIds[0] as number, clock.now())).to.equal(true);
    clock.advance(2 * 60_000);
    const tick = await ctx.ticks.runTick(campaignId, clock.now());
    expect(tick.created).to.equal(2);
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 5, 'second step sent to the others');
    const replied = (await ctx.db('messages').where({ lead_id: leadIds[0], step_index: 1 }).first()) as unknown;
    expect(replied).to.equal(undefined);
  });

  it('skips a queued step for a lead who replied after it was queued', async () => {
    const { campaignId, leadIds } = await seedCampaign(ctx, { leads: makeLeads(2) });
    await ctx.ticks.runTick(campaignId, clock.now());
    await markReplied(ctx.db, campaignId, leadIds[0] as number, clock.now());
    await run();
    await eventually(async () => {
      const counts = await statusCounts(ctx, campaignId);
      return counts.SENT_PROOF === 1 && counts.SKIPPED === 1;
    }, 'one sent, one skipped');
    const skipped = (await ctx.db('messages').where({ status: 'SKIPPED' }).first('skip_reason')) as { skip_reason: string };
    expect(skipped.skip_reason).to.equal('lead replied');
  });
});
