import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AppContext } from '../../src/runtime/context.js';
import { resetDatabase, resetQueueStore, testRun } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, spawnDrumbeat, stopProcess } from '../support/engine.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { assertExactlyOnce, sentCount, untilCompleted } from '../support/exactly-once.js';
import { workersListenName } from '../../src/jobs/shared-listen.js';

/** Worker settings that make recovery quick enough to watch in a test. */
const chaosEnv = { JOB_LOCK_DURATION: '3s', RECONCILE_EVERY: '1s', SENDING_STALE_AFTER: '3s', SEND_CONCURRENCY: '10', SEND_BACKOFF: '100ms' };

const twoSteps = {
  tickEvery: '1s',
  steps: [
    { channel: 'email' as const, delay: '0s', subject: 'Hi', body: 'One <%= it.lead.firstName %>' },
    { channel: 'linkedin' as const, delay: '1s', body: 'Two <%= it.lead.firstName %>' },
  ],
};

describe('chaos: crashes and outages in the middle of a campaign', function () {
  this.timeout(180_000);
  let ctx: AppContext;
  let workers: ChildProcess[] = [];
  /** The Redis of a test that restarts Redis: its own server, never the machine's shared one. */
  let privateRedis: PrivateRedis | undefined;

  /** The end of each worker's output (warnings and errors), shown when a test fails. */
  let outputTails: string[] = [];

  function startWorker(env: Record<string, string> = {}): ChildProcess {
    const worker = spawnDrumbeat(['worker'], { ...chaosEnv, ...env });
    const index = outputTails.push('') - 1;
    // Read the pipes: a worker whose unread output fills one blocks on its next log line.
    const keep = (chunk: Buffer) => (outputTails[index] = `${outputTails[index] ?? ''}${chunk.toString()}`.slice(-3000));
    worker.stdout?.on('data', keep);
    worker.stderr?.on('data', keep);
    workers.push(worker);
    return worker;
  }

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    ctx = engineContext();
  });

  afterEach(async function () {
    await Promise.all(workers.map((worker) => stopProcess(worker)));
    if (this.currentTest?.state === 'failed') outputTails.forEach((tail, index) => process.stderr.write(`--- worker ${index + 1}, last output:\n${tail}\n`));
    outputTails = [];
    workers = [];
    await ctx.close();
    await privateRedis?.stop();
    privateRedis = undefined;
  });

  it('kill -9 of the worker, again and again: every step exactly once, a send caught mid-flight is UNKNOWN and not resent', async () => {
    const leads = 1500;
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(leads), scheduled: true, spec: twoSteps });
    for (const threshold of [200, 900, 1700]) {
      const worker = startWorker();
      await eventually(async () => (await sentCount(ctx, campaignId)) >= threshold, `${threshold} sends`, 60_000);
      worker.kill('SIGKILL');
      await once(worker, 'exit');
    }
    startWorker();
    await untilCompleted(ctx, campaignId);
    const outcome = await assertExactlyOnce(ctx, campaignId, leads, 2);
    expect(outcome.completed + outcome.unknown).to.equal(leads);
    expect(outcome.completed).to.be.greaterThan(leads * 0.9);
  });

  it('the queue store flushed in the middle (Redis keys, or the Postgres queue tables): completes with no duplicate and none missing', async () => {
    const leads = 1500;
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(leads), scheduled: true, spec: twoSteps });
    startWorker();
    await eventually(async () => (await sentCount(ctx, campaignId)) >= 600, '600 sends', 60_000);
    await resetQueueStore();
    await untilCompleted(ctx, campaignId);
    expect(await assertExactlyOnce(ctx, campaignId, leads, 2)).to.deep.equal({ completed: leads, unknown: 0 });
  });

  it('Postgres backends of the worker terminated in the middle (its queue pool and LISTEN connections too on Postgres): the pools recover and the process keeps running', async () => {
    const leads = 1500;
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(leads), scheduled: true, spec: twoSteps });
    const worker = startWorker();
    for (const threshold of [300, 1200]) {
      await eventually(async () => (await sentCount(ctx, campaignId)) >= threshold, `${threshold} sends`, 60_000);
      const { rows } = await ctx.db.raw<{ rows: Array<{ terminated: boolean }> }>(
        `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name IN (?, ?)`,
        [`drumbeat-${worker.pid}`, workersListenName(worker.pid ?? 0)],
      );
      expect(rows.length, 'the worker had backends to terminate').to.be.greaterThan(0);
    }
    await untilCompleted(ctx, campaignId);
    expect(worker.exitCode, 'the worker did not crash').to.equal(null);
    const outcome = await assertExactlyOnce(ctx, campaignId, leads, 2);
    expect(outcome.completed + outcome.unknown).to.equal(leads);
  });

  it('SIGTERM in the middle of a batch: active sends drain, a restarted worker finishes, nothing lost or doubled', async () => {
    const leads = 1500;
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(leads), scheduled: true, spec: twoSteps });
    const first = startWorker();
    await eventually(async () => (await sentCount(ctx, campaignId)) >= 500, '500 sends', 60_000);
    const exited = once(first, 'exit') as Promise<[number | null]>;
    first.kill('SIGTERM');
    const [code] = await exited;
    expect(code).to.equal(0);
    const [{ count: sending }] = (await ctx.db('messages').where({ campaign_id: campaignId, status: 'SENDING' }).count('* as count')) as [{ count: number }];
    expect(sending, 'no send was abandoned mid-flight').to.equal(0);
    startWorker();
    await untilCompleted(ctx, campaignId);
    expect(await assertExactlyOnce(ctx, campaignId, leads, 2)).to.deep.equal({ completed: leads, unknown: 0 });
  });

  it('four worker processes on one campaign: exactly once, and the daily cap holds', async () => {
    const leads = 1200;
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(leads), scheduled: true, spec: { ...twoSteps, dailyCap: 1500 } });
    for (let index = 0; index < 4; index += 1) startWorker({ SEND_CONCURRENCY: '25' });
    // A send whose job lost its lock under load may end UNKNOWN: it keeps its unit of the cap
    // (it may have gone out), so the cap is reached when sent and unknown make 1,500.
    const capUsed = async () => {
      const rows = (await ctx.db('messages').where({ campaign_id: campaignId }).whereIn('status', ['SENT_PROOF', 'UNKNOWN']).select('status').count('* as count').groupBy('status')) as Array<{ status: string; count: number }>;
      const sent = rows.find((row) => row.status === 'SENT_PROOF')?.count ?? 0;
      return { sent, used: rows.reduce((sum, row) => sum + row.count, 0) };
    };
    await eventually(async () => (await capUsed()).used >= 1500, 'the cap to be reached', 120_000);
    // Let any send that raced the cap finish, then check nothing went past it.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { sent, used } = await capUsed();
    expect(used).to.equal(1500);
    const [{ rows }] = (await ctx.db('proof_deliveries as p').join('messages as m', 'm.id', 'p.message_id').where('m.campaign_id', campaignId).count('* as rows')) as [{ rows: number }];
    expect(rows, 'a ledger row for every sent message, none past the cap').to.be.within(sent, 1500);
    const duplicates = (await ctx.db('proof_deliveries').select('idempotency_key').groupBy('idempotency_key').having(ctx.db.raw('count(*) > 1'))) as unknown[];
    expect(duplicates).to.deep.equal([]);
  });

  it('Redis restarted in the middle (a private server): the same worker resumes without a restart and completes', async function () {
    // With every queue on Postgres there is no Redis to restart: the terminated backends above are that outage.
    if (testRun.queueBackend === 'postgres') this.skip();
    privateRedis = await startPrivateRedis();
    await ctx.close();
    ctx = engineContext({ env: { REDIS_URL: privateRedis.url } });
    const leads = 1500;
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(leads), scheduled: true, spec: twoSteps });
    const worker = startWorker({ REDIS_URL: privateRedis.url });
    await eventually(async () => (await sentCount(ctx, campaignId)) >= 600, '600 sends', 60_000);
    await privateRedis.stop();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await privateRedis.start();
    await untilCompleted(ctx, campaignId);
    expect(worker.exitCode, 'the worker was never restarted').to.equal(null);
    const outcome = await assertExactlyOnce(ctx, campaignId, leads, 2);
    expect(outcome.completed + outcome.unknown).to.equal(leads);
  });
});
