import { expect } from 'chai';
import { runPreflight } from '../../src/preflight/preflight.js';
import { testConfig, testDb, resetDatabase } from '../setup/hooks.js';
import { runDrumbeat } from '../support/engine.js';
import { startSmtpServer } from '../channels/smtp-harness.js';

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

  it('logs in to the SMTP relay when a LIVE campaign sends email: a refused login fails with the classified reason; /readyz never logs in', async () => {
    const smtp = await startSmtpServer({ auth: { user: 'mailer', pass: 'the-right-password' } });
    try {
      const db = testDb();
      const [campaign] = (await db('campaigns').insert({ name: 'Live', slug: 'live', mode: 'LIVE', spec: '{}' }).returning('id')) as Array<{ id: number }>;
      await db('campaign_steps').insert({ campaign_id: campaign!.id, step_index: 0, channel: 'email', body: 'hi' });
      const wrong = smtp.url.replace('the-right-password', 'an-expired-password');

      const probe = await runPreflight(testConfig({ SMTP_URL: wrong }), db);
      expect(probe.checks.map((check) => check.name), 'the default (readiness) check stays cheap').to.not.include('smtp-login');
      expect(smtp.counts().connections).to.equal(0);

      const refused = await runDrumbeat(['preflight'], { SMTP_URL: wrong });
      expect(refused.code).to.equal(1);
      expect(refused.stdout).to.include('FAIL smtp-login: SMTP credentials refused at AUTH: 535 5.7.8 Authentication credentials invalid; fix SMTP_URL');
      expect(refused.stdout + refused.stderr).to.not.include('an-expired-password');

      const accepted = await runPreflight(testConfig({ SMTP_URL: smtp.url }), db, { smtpLogin: true });
      expect(accepted.checks.find((check) => check.name === 'smtp-login')).to.deep.equal({
        name: 'smtp-login',
        ok: true,
        message: `The SMTP relay accepts drumbeat's login as mailer@127.0.0.1:${smtp.port}.`,
      });
      expect(smtp.counts().data, 'no mail is sent').to.equal(0);
    } finally {
      await smtp.close();
    }
  });

  it('exits non-zero from the CLI when something is wrong', async () => {
    const result = await runDrumbeat(['preflight'], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(result.code).to.equal(1);
    expect(result.stdout).to.match(/FAIL redis: Redis at .* is not reachable/);
  });
  it('warns (WARN, exit 0) about a stored template that no longer passes the template language, naming where', async () => {
    const db = testDb();
    const [campaign] = (await db('campaigns').insert({ name: 'Tampered', slug: 'tampered', spec: '{}' }).returning('id')) as Array<{ id: number }>;
    // Written past every save-time check, as a tampered or legacy row would be.
    await db('campaign_steps').insert({ campaign_id: campaign!.id, step_index: 0, channel: 'x', body: 'Hi\n<%= process.env.DATABASE_URL %>' });
    const report = await runPreflight(testConfig(), db, { storedTemplates: true });
    const templates = report.checks.find((check) => check.name === 'templates');
    expect(templates).to.deep.include({ ok: true, warning: true });
    expect(templates?.message).to.include(`campaign ${campaign!.id} step 1 body line 2: "process" is not allowed`);
    const cli = await runDrumbeat(['preflight']);
    expect(cli.code, cli.stdout).to.equal(0);
    expect(cli.stdout).to.match(/^WARN templates: 1 stored template text\(s\) no longer pass/m);
    expect((await runPreflight(testConfig(), db)).checks.map((check) => check.name), 'readiness does not scan templates').to.not.include('templates');
  });
});
