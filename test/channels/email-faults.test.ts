import { expect } from 'chai';
import { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { readiness } from '../../src/runtime/processes.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, runDrumbeat, seedCampaign, statusCounts } from '../support/engine.js';
import { startApp, type RunningApp } from '../http/http-harness.js';
import { startSmtpServer, type SmtpHarness } from './smtp-harness.js';

const liveEmail = {
  mode: 'LIVE' as const,
  from: { name: 'Ada Lovelace', email: 'ada@drumbeat.example' },
  steps: [{ channel: 'email' as const, delay: '0s', subject: 'Hello <%= it.lead.firstName %>', body: 'Hi <%= it.lead.firstName %>' }],
};

interface CampaignRow {
  id: number;
  status: string;
  pause_reason: string | null;
  paused_by: string | null;
}

/**
 * Faults that are not the lead's (credentials, quota, a missing SMTP_URL) against a real SMTP
 * server and real workers: nothing is consumed, the campaigns pause with the relay's answer, and
 * resuming after the fix sends each held message once. A recipient's own refusal still ends only
 * that lead.
 */
describe('LIVE email: a fault that is not the lead’s never consumes the lead', function () {
  this.timeout(40_000);
  let smtp: SmtpHarness;
  let contexts: AppContext[] = [];
  let workers: RunningWorkers | undefined;
  let app: RunningApp | undefined;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await workers?.close();
    workers = undefined;
    for (const ctx of contexts) await ctx.close();
    contexts = [];
    await smtp.close();
  });

  function context(env: Record<string, string>): AppContext {
    const ctx = engineContext({ env: { PUBLIC_URL: 'https://drumbeat.example', SMTP_TIMEOUT: '2s', ...env } });
    contexts.push(ctx);
    return ctx;
  }

  async function run(ctx: AppContext): Promise<void> {
    workers = await startWorkers(ctx, undefined, { schedule: false });
  }

  async function stop(): Promise<void> {
    await workers?.close();
    workers = undefined;
  }

  async function campaignRow(ctx: AppContext, id: number): Promise<CampaignRow> {
    return (await ctx.db('campaigns').where({ id }).first('id', 'status', 'pause_reason', 'paused_by')) as CampaignRow;
  }

  /** Waits until the campaigns are PAUSED and every send job is held (delayed), none running. */
  async function pausedAndHeld(ctx: AppContext, campaignIds: number[], messages: number): Promise<void> {
    await eventually(async () => {
      const rows = await Promise.all(campaignIds.map((id) => campaignRow(ctx, id)));
      if (!rows.every((row) => row.status === 'PAUSED')) return false;
      const counts = await ctx.queues.get(sendEmailQueue).getJobCounts('active', 'waiting', 'delayed', 'failed');
      const queued = await ctx.db('messages').where({ status: 'QUEUED' }).count('* as count').first();
      return counts.active === 0 && counts.waiting === 0 && counts.delayed === messages && Number(queued?.count) === messages;
    }, 'campaigns PAUSED and every send held');
  }

  /** Nothing about any lead changed: every message QUEUED with no attempt spent, nobody suppressed or ended. */
  async function nothingConsumed(ctx: AppContext, messages: number): Promise<void> {
    const rows = (await ctx.db('messages').select('status', 'attempts')) as Array<{ status: string; attempts: number }>;
    expect(rows).to.have.length(messages);
    expect(rows.every((row) => row.status === 'QUEUED' && row.attempts === 0), JSON.stringify(rows)).to.equal(true);
    expect(await ctx.db('suppressions').select('id')).to.deep.equal([]);
    const states = (await ctx.db('campaign_leads').distinct('state')) as Array<{ state: string }>;
    expect(states.map((row) => row.state), 'no lead ended').to.deep.equal(['NEW']);
    const failed = await ctx.queues.get(sendEmailQueue).getJobs(['failed']);
    expect(failed, 'no job failed').to.deep.equal([]);
  }

  /** Each lead of the campaigns got exactly one mail. */
  function deliveredOnceEach(count: number): void {
    const recipients = smtp.received.map((mail) => (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address);
    expect(recipients).to.have.length(count);
    expect(new Set(recipients).size, 'no recipient got two').to.equal(count);
    expect(smtp.counts().data, 'no message data handed over twice').to.equal(count);
  }

  it('535 at AUTH: nothing DEAD or suppressed, every LIVE email campaign PAUSED with the answer, shown by campaign show and /readyz; resume after the fix sends once', async () => {
    smtp = await startSmtpServer({ auth: { user: 'mailer', pass: 'the-right-password' } });
    const wrong = context({ SMTP_URL: smtp.url.replace('the-right-password', 'an-expired-password') });
    const first = await seedCampaign(wrong, { leads: makeLeads(3, 'first'), spec: { ...liveEmail, name: 'Q4 launch' } });
    const second = await seedCampaign(wrong, { leads: makeLeads(2, 'second'), spec: liveEmail });
    const proof = await seedCampaign(wrong, { leads: makeLeads(1, 'proof'), spec: { ...liveEmail, mode: 'PROOF' } });
    await wrong.ticks.runTick(first.campaignId, wrong.clock.now());
    await wrong.ticks.runTick(second.campaignId, wrong.clock.now());
    await run(wrong);
    await pausedAndHeld(wrong, [first.campaignId, second.campaignId], 5);
    await stop();

    await nothingConsumed(wrong, 5);
    const reason = 'SMTP credentials refused at AUTH: 535 5.7.8 Authentication credentials invalid';
    for (const id of [first.campaignId, second.campaignId]) {
      expect(await campaignRow(wrong, id)).to.deep.include({ status: 'PAUSED', pause_reason: reason, paused_by: 'drumbeat' });
    }
    expect((await campaignRow(wrong, proof.campaignId)).status, 'a PROOF campaign sends through no account').to.equal('ACTIVE');

    const shown = await runDrumbeat(['campaign', 'show', String(first.campaignId)]);
    expect(shown.code).to.equal(0);
    expect(shown.stdout).to.include(`**Paused by drumbeat:** ${reason}.`);
    const shownJson = await runDrumbeat(['campaign', 'show', String(first.campaignId), '--json']);
    const parsed = JSON.parse(shownJson.stdout) as { campaign: { pauseReason: string; pausedBy: string }; report: { campaign: { pauseReason: string } } };
    expect(parsed.campaign).to.deep.include({ pauseReason: reason, pausedBy: 'drumbeat' });
    expect(parsed.report.campaign.pauseReason).to.equal(reason);

    app = await startApp({ config: wrong.config, db: wrong.db, readiness: () => readiness(wrong) });
    const ready = await fetch(app.url('/readyz'));
    expect(ready.status, 'a paused campaign does not make the API unready').to.equal(200);
    const { checks } = (await ready.json()) as { checks: Array<{ name: string; ok: boolean; message: string }> };
    const paused = checks.find((check) => check.name === 'campaigns-paused');
    expect(paused?.ok).to.equal(true);
    expect(paused?.message).to.include(`campaign ${first.campaignId} "Q4 launch" paused by drumbeat: ${reason}`).and.include(`campaign ${second.campaignId} `);

    // The operator fixes the credentials (a worker started with the right SMTP_URL) and resumes.
    const fixed = context({ SMTP_URL: smtp.url });
    await run(fixed);
    for (const id of [first.campaignId, second.campaignId]) {
      const resumed = await runDrumbeat(['campaign', 'resume', String(id)]);
      expect(resumed.stdout.trim()).to.equal(`campaign ${id} is ACTIVE`);
    }
    await eventually(async () => (await fixed.db('messages').where({ status: 'SENT' }).count('* as count').first())?.count === 5, 'all five SENT');
    deliveredOnceEach(5);
    // Resumed: the reason is gone (its tick may since have completed the one-step campaign).
    expect(await campaignRow(fixed, first.campaignId)).to.deep.include({ pause_reason: null, paused_by: null });
    const attempts = (await fixed.db('messages').pluck('attempts')) as number[];
    expect(attempts).to.deep.equal([1, 1, 1, 1, 1]);
  });

  it('550 5.4.5 after DATA (quota): nothing consumed, PAUSED quoting the relay; resume sends each held message once', async () => {
    smtp = await startSmtpServer();
    smtp.behave({ kind: 'reject-data', code: 550, message: '5.4.5 Daily user sending quota exceeded' });
    const engine = context({ SMTP_URL: smtp.url });
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(4), spec: liveEmail });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    await run(engine);
    await pausedAndHeld(engine, [campaignId], 4);
    await nothingConsumed(engine, 4);
    expect(smtp.received, 'the relay kept nothing').to.have.length(0);
    expect(await campaignRow(engine, campaignId)).to.deep.include({
      pause_reason: 'SMTP relay refused at DATA: 550 5.4.5 Daily user sending quota exceeded',
      paused_by: 'drumbeat',
    });
    const report = await runDrumbeat(['report', String(campaignId), '--format', 'json']);
    expect((JSON.parse(report.stdout) as { campaign: { pauseReason: string } }).campaign.pauseReason).to.include('550 5.4.5 Daily user sending quota exceeded');

    // The quota resets; the same worker goes on once the operator resumes.
    const dataBefore = smtp.counts().data;
    smtp.behave({ kind: 'accept' });
    await engine.campaigns.resume(campaignId);
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT === 4, 'all four SENT');
    expect(smtp.counts().data - dataBefore).to.equal(4);
    expect(smtp.received).to.have.length(4);
    expect(new Set(smtp.received.map((mail) => mail.messageId)).size).to.equal(4);
  });

  it('550 5.1.1 at RCPT for one address: only that message DEAD and that address suppressed; the others SENT; the campaign stays ACTIVE', async () => {
    smtp = await startSmtpServer();
    smtp.behave({ kind: 'reject-recipient', code: 550, message: '5.1.1 No such user here', only: 'lead-1@example.com' });
    const engine = context({ SMTP_URL: smtp.url, SEND_ATTEMPTS: '4' });
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(3), spec: liveEmail });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    await run(engine);
    await eventually(async () => {
      const counts = await statusCounts(engine, campaignId);
      return counts.SENT === 2 && counts.DEAD === 1;
    }, 'two SENT, one DEAD');
    const dead = (await engine.db('messages').where({ status: 'DEAD' }).first('recipient', 'last_error', 'idempotency_key')) as {
      recipient: string;
      last_error: string;
      idempotency_key: string;
    };
    expect(dead.recipient).to.equal('lead-1@example.com');
    expect(dead.last_error).to.equal('PermanentSendError: SMTP recipient refused at RCPT TO: 550 5.1.1 No such user here');
    const suppressed = (await engine.db('suppressions').where({ kind: 'email' }).select('value', 'reason')) as Array<{ value: string; reason: string }>;
    expect(suppressed.map((row) => [row.value, row.reason])).to.deep.equal([['lead-1@example.com', 'hard bounce']]);
    const states = (await engine.db('campaign_leads as cl').join('leads as l', 'l.id', 'cl.lead_id').orderBy('l.email').select('l.email', 'cl.state')) as Array<{ email: string; state: string }>;
    expect(states.map((row) => row.state)).to.deep.equal(['COMPLETED', 'BOUNCED', 'COMPLETED']);
    expect(await campaignRow(engine, campaignId)).to.deep.include({ status: 'ACTIVE', pause_reason: null });
    const job = await Job.fromId(engine.queues.get(sendEmailQueue), dead.idempotency_key);
    expect(await job?.getState()).to.equal('failed');
    expect(smtp.received).to.have.length(2);
  });

  it('a LIVE campaign with no SMTP_URL pauses with "SMTP_URL is not set"; nothing is DEAD', async () => {
    smtp = await startSmtpServer();
    const engine = context({});
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(3), spec: liveEmail });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    await run(engine);
    await pausedAndHeld(engine, [campaignId], 3);
    await nothingConsumed(engine, 3);
    expect(await campaignRow(engine, campaignId)).to.deep.include({ pause_reason: 'no LIVE email adapter: SMTP_URL is not set', paused_by: 'drumbeat' });
  });
});
