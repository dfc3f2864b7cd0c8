import { expect } from 'chai';
import { runPreflight } from '../../src/preflight/preflight.js';
import { testConfig, testDb, resetDatabase } from '../setup/hooks.js';
import { runDrumbeat } from '../support/engine.js';

describe('preflight', function () {
  this.timeout(20_000);
  beforeEach(() => resetDatabase());

  it('passes with Redis and Postgres up and the schema current', async () => {
    const report = await runPreflight(testConfig(), testDb());
    expect(report.ok, JSON.stringify(report.checks)).to.equal(true);
  });

  it('says in one sentence that Redis is unreachable, naming REDIS_URL', async () => {
    const report = await runPreflight(testConfig({ REDIS_URL: 'redis://127.0.0.1:1' }), testDb());
    expect(report.ok).to.equal(false);
    const redis = report.checks.find((check) => check.name === 'redis');
    expect(redis?.message).to.match(/^Redis at redis:\/\/127\.0\.0\.1:1 is not reachable .*fix REDIS_URL\.$/);
  });

  it('says Postgres is unreachable, naming DATABASE_URL without its password', async () => {
    const report = await runPreflight(testConfig({ DATABASE_URL: 'postgres://app:hunter2-secret@127.0.0.1:1/x' }));
    const postgres = report.checks.find((check) => check.name === 'postgres');
    expect(postgres?.ok).to.equal(false);
    expect(postgres?.message).to.include('fix DATABASE_URL');
    expect(postgres?.message).to.not.include('hunter2-secret');
  });

  it('names the missing settings of a channel a LIVE campaign uses', async () => {
    const db = testDb();
    const [campaign] = (await db('campaigns').insert({ name: 'Live', slug: 'live', mode: 'LIVE', spec: '{}' }).returning('id')) as Array<{ id: number }>;
    await db('campaign_steps').insert({ campaign_id: campaign!.id, step_index: 0, channel: 'x', body: 'hi' });
    const report = await runPreflight(testConfig(), db);
    const x = report.checks.find((check) => check.name === 'channel-x');
    expect(x).to.deep.include({ ok: false });
    expect(x?.message).to.include('X_BEARER_TOKEN');
  });

  it('exits non-zero from the CLI when something is wrong', async () => {
    const result = await runDrumbeat(['preflight'], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(result.code).to.equal(1);
    expect(result.stdout).to.match(/FAIL redis: Redis at .* is not reachable/);
  });
});
