import { expect } from 'chai';
import { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { TransientSendError, PermanentSendError, type ChannelAdapter, type OutboundMessage } from '../../src/channels/adapter.js';
import { suppress } from '../../src/suppression/suppression-service.js';
import { setKillSwitch } from '../../src/settings/kill-switch.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, ledger, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import { clockOnNext } from '../support/clock.js';

/** An adapter that records every call and fails while `failuresLeft` is positive. */
function recordingAdapter(failWith?: () => Error) {
  const calls: OutboundMessage[] = [];
  let failuresLeft = 0;
  const adapter: ChannelAdapter = {
    provider: 'test-smtp',
    send(message) {
      calls.push(message);
      if (failuresLeft > 0 && failWith !== undefined) {
        failuresLeft -= 1;
        return Promise.reject(failWith());
      }
      return Promise.resolve({ provider: 'test-smtp', externalId: `ext-${message.id}-${calls.length}` });
    },
  };
  return {
    adapter,
    calls,
    failNext(count: number) {
      failuresLeft = count;
    },
  };
}

describe('send windows, caps and retries', function () {
  this.timeout(30_000);
  let ctx: AppContext;
  let workers: RunningWorkers | undefined;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await ctx.close();
  });

  async function run(): Promise<void> {
    workers = await startWorkers(ctx, undefined, { schedule: false });
  }

  it('ticks create nothing outside the send window in the campaign time zone, and send inside it', async () => {
    const clock = clockOnNext('sat', '12:00', 'Europe/London');
    ctx = engineContext({ clock });
    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(4),
      spec: { timezone: 'Europe/London', sendWindow: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:30' } },
    });
    expect((await ctx.ticks.runTick(campaignId, clock.now())).outcome).to.equal('outside-window');
    clock.setAt(2, '08:59'); // Monday 08:59 London
    expect((await ctx.ticks.runTick(campaignId, clock.now())).outcome).to.equal('outside-window');
    clock.setAt(2, '09:00');
    const inside = await ctx.ticks.runTick(campaignId, clock.now());
    expect(inside.created).to.equal(4);
    await run();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 4, 'sent inside the window');
  });

  it('holds a send outside the lead’s own window until it opens', async () => {
    const clock = clockOnNext('mon', '10:00'); // Monday 10:00 UTC = 19:00 in Tokyo
    ctx = engineContext({ clock });
    const { campaignId } = await seedCampaign(ctx, {
      leads: [{ email: 'tokyo@example.com', firstName: 'T', timezone: 'Asia/Tokyo' }, { email: 'london@example.com', firstName: 'L' }],
      spec: { timezone: 'Europe/London', sendWindow: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' } },
    });
    await ctx.ticks.runTick(campaignId, clock.now());
    await run();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 1, 'london lead sent');
    const tokyo = (await ctx.db('messages').where({ recipient: 'tokyo@example.com' }).first()) as { status: string; idempotency_key: string };
    expect(tokyo.status).to.equal('QUEUED');
    const job = await Job.fromId(ctx.queues.get(sendEmailQueue), tokyo.idempotency_key);
    expect(await job?.getState()).to.equal('delayed');
    // Held until Tuesday 09:00 Tokyo = Tuesday 00:00 UTC.
    expect((job?.timestamp ?? 0) + (job?.delay ?? 0)).to.be.closeTo(clock.at(1, '00:00').getTime(), 60_000);
  });

  it('never exceeds the campaign daily cap, and capped messages go out the next local day', async () => {
    const clock = clockOnNext('mon', '10:00');
    ctx = engineContext({ clock });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(30), spec: { dailyCap: 12 } });
    const first = await ctx.ticks.runTick(campaignId, clock.now());
    expect(first.created, 'the tick takes no more than the cap allows').to.equal(12);
    // A second tick before anything was sent sees the whole cap free and queues 12 more:
    // only the send gate's atomic counter stands between them and the cap.
    const second = await ctx.ticks.runTick(campaignId, new Date(clock.now().getTime() + 1));
    expect(second.created).to.equal(12);
    await run();
    await eventually(async () => {
      const counts = await statusCounts(ctx, campaignId);
      return counts.SENT_PROOF === 12 && counts.QUEUED === 12;
    }, '12 sent and 12 held');
    expect((await ledger(ctx, campaignId)).rows).to.equal(12);
    const counter = (await ctx.db('send_counters').where({ scope: `campaign-${campaignId}` }).first()) as { used: number; day: string };
    expect(counter).to.deep.include({ used: 12, day: clock.day() });

    // A held message is QUEUED as soon as its job decides to wait; the job itself is delayed a moment later.
    await eventually(async () => {
      const jobs = await ctx.queues.get(sendEmailQueue).getJobCounts('active', 'delayed');
      return jobs.active === 0 && jobs.delayed === 12;
    }, 'the 12 held jobs delayed');
    clock.setAt(1, '00:00:30');
    for (const job of await ctx.queues.get(sendEmailQueue).getJobs(['delayed'])) await job.promote();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 24, 'held messages sent the next day');
    const third = await ctx.ticks.runTick(campaignId, clock.now());
    expect(third, 'the held messages used the new day’s cap').to.include({ outcome: 'capped', created: 0 });
    clock.setAt(2, '08:00');
    const fourth = await ctx.ticks.runTick(campaignId, clock.now());
    expect(fourth.created).to.equal(6);
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 30, 'the rest sent');
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 30, distinct: 30 });
  });

  it('retries transient failures with backoff, then succeeds', async () => {
    const flaky = recordingAdapter(() => new TransientSendError('421 try again later'));
    ctx = engineContext({ liveAdapters: { email: flaky.adapter }, env: { SEND_ATTEMPTS: '4' } });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(1), spec: { mode: 'LIVE' } });
    flaky.failNext(2);
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await run();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 1, 'sent after retries');
    expect(flaky.calls).to.have.length(3);
    const message = (await ctx.db('messages').where({ campaign_id: campaignId }).first()) as { attempts: number; external_id: string };
    expect(message.attempts).to.equal(3);
    expect(message.external_id).to.equal(`ext-${1}-3`);
  });

  it('ends DEAD after the last attempt, keeps the job in the failed set, and a retry from there re-checks every gate, failing visibly where one refuses', async () => {
    const flaky = recordingAdapter(() => new TransientSendError('503 unavailable'));
    ctx = engineContext({ liveAdapters: { email: flaky.adapter }, env: { SEND_ATTEMPTS: '3' } });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(2), spec: { mode: 'LIVE' } });
    flaky.failNext(6);
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await run();
    await eventually(async () => (await statusCounts(ctx, campaignId)).DEAD === 2, 'both DEAD');
    expect(flaky.calls).to.have.length(6);
    // The DEAD row is written just before BullMQ moves the job to the failed set.
    const failed = await eventually(async () => {
      const jobs = await ctx.queues.get(sendEmailQueue).getJobs(['failed']);
      return jobs.length === 2 && jobs;
    }, 'both jobs in the failed set');

    // The operator retries both from the dead-letter view; one address was suppressed meanwhile.
    await suppress(ctx.db, 'lead-0@example.com', { reason: 'complained' });
    for (const job of failed) await job.retry('failed');
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 1, 'the other one sent');
    // The suppressed one is not quietly skipped: it stays DEAD and its job fails again, saying why.
    const suppressed = (await ctx.db('messages').where({ recipient: 'lead-0@example.com' }).first('id', 'status', 'idempotency_key')) as {
      id: number;
      status: string;
      idempotency_key: string;
    };
    const reason = await eventually(async () => {
      const job = await ctx.queues.get(sendEmailQueue).getJob(suppressed.idempotency_key);
      return (await job?.getState()) === 'failed' && job?.failedReason.startsWith('not sent') === true ? job.failedReason : undefined;
    }, 'the suppressed one to fail again');
    expect(reason).to.equal(`not sent: the lead is suppressed: email (complained); message ${suppressed.id} stays DEAD`);
    expect(suppressed.status).to.equal('DEAD');
    expect(flaky.calls).to.have.length(7);
    expect(flaky.calls[6]?.recipient).to.equal('lead-1@example.com');
  });

  it('the kill switch stops adapter calls across workers within a second', async () => {
    const started: number[] = [];
    const slow: ChannelAdapter = {
      provider: 'slow-smtp',
      async send(message) {
        started.push(Date.now());
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { provider: 'slow-smtp', externalId: `ext-${message.id}` };
      },
    };
    ctx = engineContext({ liveAdapters: { email: slow }, env: { SEND_CONCURRENCY: '20' } });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(600), spec: { mode: 'LIVE' } });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await run();
    const second = await startWorkers(ctx, undefined, { schedule: false });
    try {
      await eventually(() => Promise.resolve(started.length >= 50), '50 sends under way');
      const killedAt = Date.now();
      await setKillSwitch(ctx, true, 'test');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const late = started.filter((at) => at > killedAt + 1000);
      expect(late, 'no adapter call started more than a second after the switch').to.deep.equal([]);
      expect(started.length).to.be.below(600);
      expect((await statusCounts(ctx, campaignId)).SENDING ?? 0, 'nothing left mid-send').to.equal(0);
    } finally {
      await second.close();
      await setKillSwitch(ctx, false, 'test');
    }
  });

  it('LIVE calls in flight stay within LIVE_SEND_SLOTS however many jobs run; the waiting ones stay QUEUED', async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    let mostSendingOverSlots = 0;
    const sent: number[] = [];
    const slow: ChannelAdapter = {
      provider: 'slow-smtp',
      async send(message) {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        const { rows } = await ctx.db.raw<{ rows: Array<{ sending: number; recorded: number }> }>(
          `SELECT count(*) FILTER (WHERE status = 'SENDING')::int AS sending, count(*) FILTER (WHERE status = 'SENT')::int AS recorded FROM messages`,
        );
        const [{ sending, recorded }] = rows as [{ sending: number; recorded: number }];
        // SENDING = in the adapter (at most the slots) or back from it with the outcome not yet written.
        mostSendingOverSlots = Math.max(mostSendingOverSlots, sending - (sent.length - recorded));
        await new Promise((resolve) => setTimeout(resolve, 15));
        inFlight -= 1;
        sent.push(message.id);
        return { provider: 'slow-smtp', externalId: `ext-${message.id}` };
      },
    };
    ctx = engineContext({ liveAdapters: { email: slow }, env: { SEND_CONCURRENCY: '40', LIVE_SEND_SLOTS: '3' } });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(60), spec: { mode: 'LIVE' } });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await run();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 60, 'all 60 sent');
    expect(new Set(sent).size).to.equal(60);
    expect(mostInFlight, 'adapter calls at once').to.equal(3);
    expect(mostSendingOverSlots, 'messages SENDING beyond those in the adapter or being recorded').to.be.at.most(3);
  });

  it('at shutdown, LIVE sends waiting for a call slot hand their jobs back QUEUED; the next worker sends each once', async () => {
    const calls: number[] = [];
    const slow: ChannelAdapter = {
      provider: 'slow-smtp',
      async send(message) {
        calls.push(message.id);
        await new Promise((resolve) => setTimeout(resolve, 200));
        return { provider: 'slow-smtp', externalId: `ext-${message.id}` };
      },
    };
    ctx = engineContext({ liveAdapters: { email: slow }, env: { SEND_CONCURRENCY: '20', LIVE_SEND_SLOTS: '1' } });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(20), spec: { mode: 'LIVE' } });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await run();
    await eventually(() => Promise.resolve(calls.length >= 1), 'the first call under way');
    const closingAt = Date.now();
    await workers?.close();
    workers = undefined;
    // Without the hand-back the worker would stay open for every queued call: 20 × 200 ms.
    expect(Date.now() - closingAt, 'close waits for the call in the adapter only').to.be.below(1500);
    const afterClose = await statusCounts(ctx, campaignId);
    expect(afterClose.SENDING ?? 0, 'nothing left SENDING').to.equal(0);
    expect(afterClose.QUEUED ?? 0, 'the waiting ones are still QUEUED').to.be.at.least(15);
    await run();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === 20, 'all 20 sent by the next worker');
    expect(calls).to.have.length(20);
    expect(new Set(calls).size).to.equal(20);
  });

  it('a permanent failure ends DEAD at once; a hard bounce also suppresses the address', async () => {
    const bouncing = recordingAdapter(() => new PermanentSendError('550 no such user', true));
    ctx = engineContext({ liveAdapters: { email: bouncing.adapter } });
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(1), spec: { mode: 'LIVE' } });
    bouncing.failNext(1);
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await run();
    await eventually(async () => (await statusCounts(ctx, campaignId)).DEAD === 1, 'DEAD');
    expect(bouncing.calls).to.have.length(1);
    // The suppression is written right after the DEAD outcome commits.
    const suppression = await eventually(
      async () => (await ctx.db('suppressions').where({ kind: 'email', value: 'lead-0@example.com' }).first()) as { reason: string } | undefined,
      'the address suppressed',
    );
    expect(suppression.reason).to.equal('hard bounce');
    const enrollment = (await ctx.db('campaign_leads').where({ campaign_id: campaignId }).first()) as { state: string };
    expect(enrollment.state).to.equal('BOUNCED');
  });
});
