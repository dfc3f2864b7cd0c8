import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import type { AppContext } from '../../src/runtime/context.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, ledger, makeLeads, seedCampaign, spawnDrumbeat, statusCounts, stopProcess } from '../support/engine.js';

describe('three worker processes on one campaign', function () {
  this.timeout(90_000);
  let ctx: AppContext;
  let children: ChildProcess[] = [];

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    ctx = engineContext();
  });

  afterEach(async () => {
    await Promise.all(children.map((child) => stopProcess(child)));
    children = [];
    await ctx.close();
  });

  function startWorkerProcesses(count: number): void {
    children = Array.from({ length: count }, () => spawnDrumbeat(['worker'], { SEND_CONCURRENCY: '20' }));
  }

  it('sends every step exactly once per lead with ticks and sends racing across processes', async () => {
    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(400),
      scheduled: true,
      spec: {
        tickEvery: '1s',
        steps: [
          { channel: 'email', delay: '0s', subject: 'Hi', body: 'One' },
          { channel: 'x', delay: '1s', body: 'Two' },
        ],
      },
    });
    startWorkerProcesses(3);
    // Manual ticks on top of the scheduled ones: overlapping ticks from every process.
    for (let index = 0; index < 3; index += 1) await ctx.ticks.runTick(campaignId, new Date(Date.now() + index));
    await eventually(async () => (await ctx.campaigns.require(campaignId)).status === 'COMPLETED', 'campaign completed', 60_000);
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ SENT_PROOF: 800 });
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 800, distinct: 800 });
  });

  it('never exceeds the daily cap with three processes racing for it', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(300), spec: { dailyCap: 100 } });
    // Three ticks before anything is sent each see the whole cap free: 300 messages queued for a cap of 100.
    for (let index = 0; index < 3; index += 1) await ctx.ticks.runTick(campaignId, new Date(Date.now() + index));
    expect((await statusCounts(ctx, campaignId)).QUEUED).to.equal(300);
    startWorkerProcesses(3);
    await eventually(async () => {
      const counts = await statusCounts(ctx, campaignId);
      return counts.SENT_PROOF === 100 && counts.QUEUED === 200 ? counts : undefined;
    }, '100 sent and 200 held', 60_000);
    await eventually(
      async () => (await ctx.queues.get(sendEmailQueue).getJobCounts('delayed')).delayed === 200,
      'the other 200 to wait in the delayed set for the next day',
    );
    expect((await statusCounts(ctx, campaignId)).SENT_PROOF).to.equal(100);
    expect((await ledger(ctx, campaignId)).rows).to.equal(100);
    const counter = (await ctx.db('send_counters').where({ scope: `campaign-${campaignId}` }).first()) as { used: number };
    expect(counter.used).to.equal(100);
  });
});
