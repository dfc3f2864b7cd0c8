import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { createLogger } from '../../src/log/logger.js';
import { createAppContext } from '../../src/runtime/context.js';
import { smtpAdapter, HeaderInjectionError } from '../../src/channels/email/smtp-adapter.js';
import type { OutboundMessage } from '../../src/channels/adapter.js';
import { resetDatabase, resetQueueStore, testConfig } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import { startSmtpServer, type SmtpHarness } from './smtp-harness.js';

interface MessageRow {
  id: number;
  status: string;
  recipient: string;
  attempts: number;
  provider_message_id: string | null;
  unsubscribe_token_hash: string | null;
  last_error: string | null;
  idempotency_key: string;
}

const liveEmail = {
  mode: 'LIVE' as const,
  from: { name: 'Ada Lovelace', email: 'ada@drumbeat.example' },
  replyTo: 'replies@drumbeat.example',
  steps: [{ channel: 'email' as const, delay: '0s', subject: 'Hello <%= it.lead.firstName %>', body: 'Hi <%= it.lead.firstName %>,\n\nA line.' }],
};

describe('LIVE email through a real SMTP server', function () {
  this.timeout(30_000);
  let smtp: SmtpHarness;
  let ctx: AppContext | undefined;
  let workers: RunningWorkers | undefined;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await ctx?.close();
    ctx = undefined;
    await smtp.close();
  });

  function context(env: Record<string, string> = {}): AppContext {
    ctx = engineContext({
      env: {
        SMTP_URL: smtp.url,
        PUBLIC_URL: 'https://drumbeat.example',
        POSTAL_ADDRESS: '1 Analytical Way, London',
        SMTP_TIMEOUT: '400ms',
        ...env,
      },
    });
    return ctx;
  }

  async function messages(campaignId: number): Promise<MessageRow[]> {
    return (await ctx!.db('messages').where({ campaign_id: campaignId }).orderBy('id')) as MessageRow[];
  }

  it('delivers each message exactly once with RFC 8058 headers, our stored Message-ID, text and HTML parts and the footer', async () => {
    smtp = await startSmtpServer();
    const engine = context();
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(3), spec: liveEmail });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT === 3, 'three SENT');

    expect(smtp.received).to.have.length(3);
    const rows = await messages(campaignId);
    expect(new Set(smtp.received.map((mail) => mail.messageId)).size).to.equal(3);
    for (const row of rows) {
      const mail = smtp.received.find((candidate) => candidate.messageId === row.provider_message_id);
      expect(mail, `mail for ${row.recipient} carries the stored Message-ID`).to.not.equal(undefined);
      const index = row.recipient.match(/lead-(\d+)@/)?.[1];
      expect(mail!.subject).to.equal(`Hello First${index}`);
      expect(mail!.from?.value[0]).to.deep.include({ name: 'Ada Lovelace', address: 'ada@drumbeat.example' });
      expect(mail!.replyTo?.value[0]?.address).to.equal('replies@drumbeat.example');
      const to = Array.isArray(mail!.to) ? mail!.to[0] : mail!.to;
      expect(to?.value[0]?.address).to.equal(row.recipient);
      const listUnsubscribe = mail!.headerLines.find((line) => line.key === 'list-unsubscribe')?.line ?? '';
      const match = /^List-Unsubscribe:\s*<https:\/\/drumbeat\.example\/u\/([A-Za-z0-9_-]{43})>,\s*<mailto:replies@drumbeat\.example\?subject=unsubscribe%20\1>$/s.exec(
        listUnsubscribe.replace(/\r?\n\s+/g, ' '),
      );
      expect(match, listUnsubscribe).to.not.equal(null);
      const token = match![1]!;
      expect(row.unsubscribe_token_hash).to.equal(createHash('sha256').update(token).digest('hex'));
      expect(mail!.headerLines.find((line) => line.key === 'list-unsubscribe-post')?.line).to.equal('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
      expect(mail!.text).to.include(`Hi First${index},`).and.include('1 Analytical Way, London').and.include(`https://drumbeat.example/u/${token}`);
      expect(mail!.html).to.be.a('string').and.include(`href="https://drumbeat.example/u/${token}"`).and.include('1 Analytical Way, London');
    }
    expect(smtp.counts().data, 'no message was handed over twice').to.equal(3);
  });

  it('retries a 4xx answer with backoff, then delivers once', async () => {
    smtp = await startSmtpServer();
    smtp.behave({ kind: 'reject-recipient', code: 451 }, { kind: 'reject-recipient', code: 451 }, { kind: 'accept' });
    const engine = context({ SEND_ATTEMPTS: '4' });
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(1), spec: liveEmail });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT === 1, 'SENT after 4xx');
    const [row] = await messages(campaignId);
    expect(row?.attempts).to.equal(3);
    expect(smtp.counts().rcpt).to.equal(3);
    expect(smtp.received).to.have.length(1);
  });

  it('a 5xx recipient rejection ends DEAD at once, records a hard bounce and suppresses the address', async () => {
    smtp = await startSmtpServer();
    smtp.behave({ kind: 'reject-recipient', code: 550 });
    const engine = context({ SEND_ATTEMPTS: '4' });
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(1), spec: liveEmail });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).DEAD === 1, 'DEAD');
    const [row] = await messages(campaignId);
    expect(row?.last_error).to.equal('PermanentSendError: SMTP recipient refused at RCPT TO: 550 No such user here');
    expect(smtp.counts().rcpt, 'no retry after a permanent refusal').to.equal(1);
    const suppression = (await engine.db('suppressions').where({ kind: 'email', value: 'lead-0@example.com' }).first()) as { reason: string } | undefined;
    expect(suppression?.reason).to.equal('hard bounce');
    const enrollment = (await engine.db('campaign_leads').where({ campaign_id: campaignId }).first()) as { state: string };
    expect(enrollment.state).to.equal('BOUNCED');
  });

  it('a hang after the message data was sent ends UNKNOWN and is never resent', async () => {
    smtp = await startSmtpServer();
    smtp.behave({ kind: 'hang-after-data' });
    const engine = context({ SEND_ATTEMPTS: '4' });
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(1), spec: liveEmail });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).UNKNOWN === 1, 'UNKNOWN');
    const [row] = await messages(campaignId);
    expect(row?.last_error).to.match(/AmbiguousSendError: .*after the message data was sent/);
    const job = await Job.fromId(engine.queues.get(sendEmailQueue), row!.idempotency_key);
    expect(await job?.getState()).to.equal('completed');
    expect(smtp.counts().data).to.equal(1);
  });

  it('a hang before DATA is transient: the retry delivers', async () => {
    smtp = await startSmtpServer();
    smtp.behave({ kind: 'hang-before-data' }, { kind: 'accept' });
    const engine = context({ SEND_ATTEMPTS: '3' });
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(1), spec: liveEmail });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT === 1, 'SENT on the retry');
    const [row] = await messages(campaignId);
    expect(row?.attempts).to.equal(2);
    expect(smtp.received).to.have.length(1);
  });

  it('refuses CR/LF header injection in any header field, reply headers included, before connecting', async () => {
    smtp = await startSmtpServer();
    const adapter = smtpAdapter({ url: smtp.url, timeoutMs: 1000 });
    const base: OutboundMessage = {
      id: 1,
      idempotencyKey: 'c1-l1-s0',
      campaignId: 1,
      channel: 'email',
      recipient: 'lead@example.com',
      subject: 'Hello',
      body: 'Hi',
      format: 'text',
      fromName: 'Ada',
      fromEmail: 'ada@drumbeat.example',
      replyTo: null,
      email: { messageId: '<a@drumbeat.example>', unsubscribeUrl: 'https://drumbeat.example/u/t', unsubscribeMailto: 'mailto:u@drumbeat.example' },
    };
    const signal = new AbortController().signal;
    for (const [field, change] of [
      ['subject', { subject: 'Hello\r\nBcc: victim@example.com' }],
      ['from name', { fromName: 'Ada\nBcc: victim@example.com' }],
      ['recipient', { recipient: 'lead@example.com\r\nBcc: victim@example.com' }],
      ['reply-to', { replyTo: 'r@example.com\rX-Evil: 1' }],
      ['in-reply-to', { thread: { inReplyTo: '<a@drumbeat.example>\r\nBcc: victim@example.com', references: null } }],
      ['references', { thread: { inReplyTo: null, references: '<a@drumbeat.example>\nBcc: victim@example.com' } }],
    ] as const) {
      await expect(adapter.send({ ...base, ...change }, { signal })).to.be.rejectedWith(HeaderInjectionError, field);
    }
    expect(smtp.counts().connections).to.equal(0);
    await adapter.send(base, { signal });
    expect(smtp.received).to.have.length(1);
  });

  it('never writes SMTP credentials to logs, errors, job data or the pause reason', async () => {
    smtp = await startSmtpServer({ auth: { user: 'mailer', pass: 'pa55-w0rd-very-secret' } });
    const wrongUrl = smtp.url.replace('pa55-w0rd-very-secret', 'wr0ng-pa55-also-secret');
    const lines: string[] = [];
    const config = testConfig({ SMTP_URL: wrongUrl, PUBLIC_URL: 'https://drumbeat.example', LOG_LEVEL: 'debug', SMTP_TIMEOUT: '1s' });
    const log = createLogger(
      config,
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    ctx = createAppContext(config, log);
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(1), spec: liveEmail });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    workers = await startWorkers(ctx, undefined, { schedule: false });
    // Refused credentials are the account's fault: the campaign pauses, the message waits QUEUED.
    const campaign = await eventually(
      async () => ((await ctx!.db('campaigns').where({ id: campaignId, status: 'PAUSED' }).first('pause_reason')) as { pause_reason: string } | undefined),
      'PAUSED on refused credentials',
    );
    expect(campaign.pause_reason).to.equal('SMTP credentials refused at AUTH: 535 5.7.8 Authentication credentials invalid');
    const [row] = await messages(campaignId);
    expect(row).to.deep.include({ status: 'QUEUED', attempts: 0 });
    expect(row?.last_error).to.equal(`SenderFaultError: ${campaign.pause_reason}`);
    const job = await Job.fromId(ctx.queues.get(sendEmailQueue), row!.idempotency_key);
    const everything = [row?.last_error ?? '', campaign.pause_reason, job?.failedReason ?? '', JSON.stringify(job?.data), JSON.stringify(job?.stacktrace), lines.join('')].join('\n');
    expect(lines.filter((line) => line.includes('paused by drumbeat')), 'the pause was logged once, at error level').to.have.length(1);
    expect(JSON.parse(lines.find((line) => line.includes('paused by drumbeat'))!)).to.deep.include({ level: 50 });
    expect(everything).to.not.include('wr0ng-pa55-also-secret');
    expect(everything).to.not.include(encodeURIComponent('wr0ng-pa55-also-secret'));
  });
});
