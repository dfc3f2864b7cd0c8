import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { unsubscribeSecret } from '../../src/settings/installation-secrets.js';
import { resetDatabase, resetQueueStore, testConfig } from '../setup/hooks.js';
import { engineContext, eventually, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import type { RunningApp } from '../http/http-harness.js';
import { isSuppressed, startFeedbackApp } from '../webhooks/webhook-support.js';
import { startSmtpServer, type SmtpHarness } from './smtp-harness.js';

const liveEmail = {
  mode: 'LIVE' as const,
  from: { name: 'Seán O’Brien', email: 'sean@drumbeat.example' },
  steps: [{ channel: 'email' as const, delay: '0s', subject: 'Hello <%= it.lead.firstName %>', body: 'Hi <%= it.lead.firstName %>' }],
};

/** Neither secret variable: the development default (test/setup/hooks.ts sets SESSION_SECRET unless told not to). */
const noSecrets = { SESSION_SECRET: '', UNSUBSCRIBE_SECRET: '' };

/** The token of a mail's List-Unsubscribe URL, as a mail client reads the header. */
function unsubscribeTokenOf(mail: ParsedMail): string {
  const header = mail.headerLines.find((line) => line.key === 'list-unsubscribe')?.line.replace(/\r?\n\s+/g, ' ') ?? '';
  const token = /<https:\/\/drumbeat\.example\/u\/([A-Za-z0-9_-]+)>/.exec(header)?.[1];
  expect(token, header).to.be.a('string');
  return token!;
}

describe('LIVE email with no UNSUBSCRIBE_SECRET or SESSION_SECRET', function () {
  this.timeout(30_000);
  let smtp: SmtpHarness;
  let contexts: AppContext[] = [];
  let workers: RunningWorkers | undefined;
  let app: RunningApp | undefined;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    smtp = await startSmtpServer();
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

  function context(env: Record<string, string> = {}): AppContext {
    const ctx = engineContext({ env: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://drumbeat.example', SMTP_TIMEOUT: '2s', ...noSecrets, ...env } });
    contexts.push(ctx);
    return ctx;
  }

  /** The mail a recipient got whose text contains `text`, as a mail client decodes it. */
  function mailFor(address: string, text: string): ParsedMail {
    const mail = smtp.received.find(
      (received) => (Array.isArray(received.to) ? received.to : [received.to]).some((to) => to?.value.some((value) => value.address === address)) && received.text?.includes(text) === true,
    );
    expect(mail, `mail to ${address} with "${text}"`).to.not.equal(undefined);
    return mail!;
  }

  async function sendAll(ctx: AppContext, campaignId: number, count: number): Promise<void> {
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    workers = await startWorkers(ctx, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT === count, `${count} SENT`);
    await workers.close();
    workers = undefined;
  }

  it('delivers with a working one-click unsubscribe link signed by the installation’s stored secret', async () => {
    const engine = context();
    const { campaignId } = await seedCampaign(engine, { leads: makeLeads(2, 'reader'), spec: liveEmail });
    await sendAll(engine, campaignId, 2);
    expect(await statusCounts(engine, campaignId)).to.deep.equal({ SENT: 2 });
    expect(smtp.received).to.have.length(2);
    const mail = mailFor('reader-0@example.com', 'Hi First0');
    expect(mail.headerLines.find((line) => line.key === 'list-unsubscribe-post')?.line).to.equal('List-Unsubscribe-Post: List-Unsubscribe=One-Click');

    app = await startFeedbackApp(engine);
    const response = await fetch(app.url(`/u/${unsubscribeTokenOf(mail)}`), { method: 'POST', body: 'List-Unsubscribe=One-Click' });
    expect(response.status).to.equal(200);
    expect(await isSuppressed(engine, 'reader-0@example.com')).to.equal(true);
    expect(await engine.db('unsubscribes').select('id')).to.have.length(1);
    expect(await isSuppressed(engine, 'reader-1@example.com')).to.equal(false);
  });

  it('two processes agree on the secret, and a new one finds it again', async () => {
    const first = context();
    const second = context();
    const config = testConfig(noSecrets);
    // Two pools racing on the first use: one insert wins, both read the winner's secret.
    const [a, b] = await Promise.all([unsubscribeSecret(config, first.db), unsubscribeSecret(config, second.db)]);
    expect(a).to.equal(b);
    expect(a).to.have.length.of.at.least(43);
    expect(await first.db('installation_secrets').count('* as count').first()).to.deep.equal({ count: 1 });

    // A mail sent by the first process carries the Message-ID derived from that secret.
    const { campaignId } = await seedCampaign(first, { leads: makeLeads(1), spec: liveEmail });
    await sendAll(first, campaignId, 1);
    for (const ctx of contexts) await ctx.close();
    contexts = [];
    const restarted = context();
    const again = await unsubscribeSecret(config, restarted.db);
    expect(again, 'the stored secret survives a restart').to.equal(a);
    const key = ((await restarted.db('messages').first('idempotency_key')) as { idempotency_key: string }).idempotency_key;
    const salt = createHmac('sha256', again).update(`message-id\n${key}`).digest('hex').slice(0, 16);
    expect(smtp.received[0]?.messageId).to.equal(`<${key}.${salt}@drumbeat.example>`);
  });

  it('a link sent under the stored secret still unsubscribes after UNSUBSCRIBE_SECRET is set', async () => {
    const before = context();
    const { campaignId } = await seedCampaign(before, { leads: makeLeads(2, 'reader'), spec: { ...liveEmail, steps: [...liveEmail.steps, { channel: 'email', delay: '0s', body: 'Second note' }] } });
    await before.ticks.runTick(campaignId, before.clock.now());
    workers = await startWorkers(before, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(before, campaignId)).SENT === 2, 'first step SENT');
    await workers.close();
    workers = undefined;
    const oldLink = unsubscribeTokenOf(mailFor('reader-0@example.com', 'Hi First0'));

    // The operator sets the variable later; the next step is signed with it.
    const after = context({ UNSUBSCRIBE_SECRET: 'a-new-unsubscribe-secret-set-by-the-operator-0123' });
    await after.ticks.runTick(campaignId, after.clock.now());
    workers = await startWorkers(after, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(after, campaignId)).SENT === 4, 'second step SENT');
    const newLink = unsubscribeTokenOf(mailFor('reader-1@example.com', 'Second note'));
    expect(newLink).to.not.equal(oldLink);

    app = await startFeedbackApp(after);
    expect((await fetch(app.url(`/u/${oldLink}`), { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status, 'the old link').to.equal(200);
    expect(await isSuppressed(after, 'reader-0@example.com')).to.equal(true);
    expect((await fetch(app.url(`/u/${newLink}`), { method: 'POST', body: 'List-Unsubscribe=One-Click' })).status, 'the new link').to.equal(200);
    expect(await isSuppressed(after, 'reader-1@example.com')).to.equal(true);
  });
});
