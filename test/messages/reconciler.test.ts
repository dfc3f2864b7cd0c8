import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { resetQueueStore } from '../setup/hooks.js';
import { eventually, freshEngineWithClock, ledger, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';

describe('reconciler', function () {
  this.timeout(30_000);
  const engine = freshEngineWithClock();
  const { clock } = engine;
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  it('re-enqueues queued messages whose jobs Redis lost, and the campaign completes with no duplicate and none missing', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(300) });
    await ctx.ticks.runTick(campaignId, clock.now());
    // Redis loses everything before a worker ran (a restart without persistence).
    await resetQueueStore();
    expect(await ctx.queues.get(sendEmailQueue).getJobCounts('waiting')).to.deep.equal({ waiting: 0 });
    const first = await ctx.reconciler.reconcile();
    expect(first.requeued).to.equal(300);
    const second = await ctx.reconciler.reconcile();
    expect(second.requeued, 'jobs that exist are left alone').to.equal(0);
    await engine.startWorkers();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 300, 'all 300 sent');
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 300, distinct: 300 });
    expect((await ctx.reconciler.reconcile()).completedCampaigns).to.equal(1);
  });

  it('removes a finished job left under a waiting message’s id (the database reset, the queue store kept) and sends the message', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(3) });
    await ctx.ticks.runTick(campaignId, clock.now());
    // An earlier database's run finishes these job ids: the messages of this one still wait.
    const leftovers = ctx.queueStore.openWorkers();
    const finisher = leftovers.create(sendEmailQueue.name, () => Promise.resolve('sent by an earlier database'), { concurrency: 3 });
    await eventually(async () => (await ctx.queues.get(sendEmailQueue).getJobCounts('completed')).completed === 3, 'the three jobs finished');
    await finisher.close();
    await leftovers.close();
    expect((await statusCounts(ctx, campaignId)).QUEUED).to.equal(3);
    expect((await ctx.reconciler.reconcile()).requeued).to.equal(3);
    await engine.startWorkers();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 3, 'all three sent');
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 3, distinct: 3 });
  });

  it('turns a stale SENDING message into UNKNOWN and never resends it', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(2) });
    await ctx.ticks.runTick(campaignId, clock.now());
    // A worker claimed this one and died before the adapter answered.
    const stuck = (await ctx.db('messages').where({ campaign_id: campaignId }).orderBy('id').first('id')) as { id: number };
    await ctx.db('messages').where({ id: stuck.id }).update({ status: 'SENDING', sending_at: clock.now() });
    clock.advance(ctx.config.SENDING_STALE_AFTER - 1000);
    expect((await ctx.reconciler.reconcile()).markedUnknown, 'not stale yet').to.equal(0);
    clock.advance(2000);
    expect((await ctx.reconciler.reconcile()).markedUnknown).to.equal(1);
    await engine.startWorkers();
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 1, 'the other message sent');
    await eventually(async () => (await ctx.queues.get(sendEmailQueue).getJobCounts('completed')).completed === 2, 'both jobs done');
    const unknown = (await ctx.db('messages').where({ id: stuck.id }).first()) as { status: string; last_error: string };
    expect(unknown.status).to.equal('UNKNOWN');
    expect(unknown.last_error).to.match(/stopped mid-send/);
    expect((await ledger(ctx, campaignId)).rows).to.equal(1);
    expect((await ctx.reconciler.reconcile()).requeued, 'UNKNOWN is never re-enqueued').to.equal(0);
  });
});
