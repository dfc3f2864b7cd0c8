import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import type { AppContext } from '../../src/runtime/context.js';
import { redisKeys } from '../../src/redis/keys.js';
import { runPreflight } from '../../src/preflight/preflight.js';
import { resetDatabase, testDb, testRun } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, spawnDrumbeat, stopProcess } from '../support/engine.js';
import { assertExactlyOnce, sentCount, untilCompleted } from '../support/exactly-once.js';
import { startRedisSentinel, type PrivateRedisSentinel } from '../support/redis-topology.js';

/** Every server of the private set requires this password, and the Sentinel its own. */
const password = 'sentinel-test-password-0123';
const sentinelPassword = 'sentinel-own-password-4567';

describe('Redis Sentinel: a private password-protected primary/replica watched by a Sentinel', function () {
  this.timeout(120_000);
  let sentinel: PrivateRedisSentinel;
  let sentinelEnv: Record<string, string>;
  let ctx: AppContext;
  let worker: ChildProcess | undefined;

  before(async () => {
    sentinel = await startRedisSentinel({ password, sentinelPassword });
    sentinelEnv = { REDIS_URL: '', REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_NAME: sentinel.name, REDIS_PASSWORD: password, REDIS_SENTINEL_PASSWORD: sentinelPassword };
  });

  after(async () => {
    await sentinel?.stop();
  });

  beforeEach(async () => {
    await resetDatabase();
    await sentinel.deleteKeys(redisKeys.everyKey(testRun.queuePrefix));
    ctx = engineContext({ env: sentinelEnv });
  });

  afterEach(async () => {
    if (worker !== undefined) await stopProcess(worker);
    worker = undefined;
    await ctx.close();
  });

  it('preflight names the master and the primary the Sentinel points at now', async () => {
    const report = await runPreflight(ctx.config, testDb());
    expect(report.checks.find((check) => check.name === 'redis')).to.deep.equal({
      name: 'redis',
      ok: true,
      message: `Redis master "${sentinel.name}" through Sentinels ${sentinel.sentinels} answers: current primary 127.0.0.1:${await sentinel.primaryPort()}.`,
    });
  });

  it('a failover in the middle of a campaign: the same worker follows the new primary, no message twice, none lost', async () => {
    const leads = 240;
    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(leads),
      scheduled: true,
      spec: {
        tickEvery: '1s',
        steps: [
          { channel: 'email', delay: '0s', subject: 'Hi', body: 'One <%= it.lead.firstName %>' },
          { channel: 'linkedin', delay: '1s', body: 'Two <%= it.lead.firstName %>' },
        ],
      },
    });
    worker = spawnDrumbeat(['worker'], { ...sentinelEnv, JOB_LOCK_DURATION: '3s', RECONCILE_EVERY: '1s', SENDING_STALE_AFTER: '3s', SEND_CONCURRENCY: '10', SEND_BACKOFF: '100ms' });
    await eventually(async () => (await sentCount(ctx, campaignId)) >= 100, '100 sends', 60_000);
    const { from, to } = await sentinel.failover();
    expect(to).to.not.equal(from);
    await untilCompleted(ctx, campaignId);
    expect(worker.exitCode, 'the worker was never restarted').to.equal(null);
    expect(await assertExactlyOnce(ctx, campaignId, leads, 2)).to.deep.equal({ completed: leads, unknown: 0 });
    const report = await runPreflight(ctx.config, testDb());
    expect(report.checks.find((check) => check.name === 'redis')?.message).to.include(`current primary 127.0.0.1:${to}.`);
  });
});
