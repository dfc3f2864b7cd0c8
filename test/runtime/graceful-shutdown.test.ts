import { expect } from 'chai';
import { once } from 'node:events';
import type { AppContext } from '../../src/runtime/context.js';
import { campaignTickQueue } from '../../queues/campaign-tick.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, spawnDrumbeat, stopProcess } from '../support/engine.js';

describe('graceful shutdown', function () {
  this.timeout(60_000);
  let ctx: AppContext;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    ctx = engineContext();
  });

  afterEach(() => ctx.close());

  it('on SIGTERM lets the running job finish, then exits 0', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(20_000) });
    const worker = spawnDrumbeat(['worker'], { LOG_LEVEL: 'info', TICK_BATCH_SIZE: '500' });
    let output = '';
    // Log lines go to stderr; stdout is for what a command prints for people.
    worker.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await eventually(() => Promise.resolve(output.includes('workers started')), 'the worker to start');
      await ctx.queues.get(campaignTickQueue).add('tick', { campaignId, slot: new Date().toISOString() }, { jobId: 'shutdown-tick' });
      const running = await eventually(
        async () => (await ctx.db('tick_runs').where({ campaign_id: campaignId }).whereNull('finished_at').first('id')) as { id: number } | undefined,
        'the tick to be running',
      );
      const exited = once(worker, 'exit') as Promise<[number | null, string | null]>;
      worker.kill('SIGTERM');
      const [code] = await exited;
      expect(code).to.equal(0);
      const tick = (await ctx.db('tick_runs').where({ id: running.id }).first()) as { finished_at: Date | null };
      expect(tick.finished_at, 'the tick finished before the process exited').to.not.equal(null);
      // The worker's start-up also scheduled ticks, which may have shared the work; none was left half done.
      const unfinished = await ctx.db('tick_runs').where({ campaign_id: campaignId }).whereNull('finished_at');
      expect(unfinished).to.deep.equal([]);
      const [{ count }] = (await ctx.db('messages').where({ campaign_id: campaignId }).count('* as count')) as [{ count: number }];
      expect(count).to.equal(20_000);
      expect(output).to.include('shutdown complete');
    } finally {
      await stopProcess(worker);
    }
  });
});
