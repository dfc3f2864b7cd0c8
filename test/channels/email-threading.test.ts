import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import type { CampaignSpecInput } from '../../src/campaigns/campaign-spec.js';
import type { Preview } from '../../src/messages/preview.js';
import { ReviewError } from '../../src/review/review-service.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, runDrumbeat, seedCampaign, statusCounts } from '../support/engine.js';
import { clockNow } from '../support/clock.js';
import { startApp } from '../http/http-harness.js';
import { startSmtpServer, type SmtpHarness } from './smtp-harness.js';
import { realNameLeads, recipientOf, referencesOf } from './mail-reader.js';

const leads = realNameLeads();
const sean = leads.find((lead) => lead.lastName === "O'Brien")!;
const niamh = leads.find((lead) => lead.lastName === "O'Connor")!;
const hour = 3_600_000;

interface MessageRow {
  lead_id: number;
  step_index: number;
  status: string;
  subject: string | null;
  provider_message_id: string | null;
  in_reply_to: string | null;
  thread_references: string | null;
}

describe('follow-up emails thread like a person wrote them', function () {
  this.timeout(60_000);
  const clock = clockNow();
  let smtp: SmtpHarness;
  let ctx: AppContext | undefined;
  let workers: RunningWorkers | undefined;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    clock.reanchor(clockNow());
    smtp = await startSmtpServer();
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await ctx?.close();
    ctx = undefined;
    await smtp.close();
  });

  function context(): AppContext {
    ctx = engineContext({ clock, env: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://drumbeat.example' } });
    return ctx;
  }

  const liveSpec = (steps: CampaignSpecInput['steps'], extra: Partial<CampaignSpecInput> = {}): Partial<CampaignSpecInput> => ({
    mode: 'LIVE',
    from: { name: 'Ada Lovelace', email: 'ada@drumbeat.example' },
    steps,
    ...extra,
  });

  /** Ticks and sends each step in turn, an hour apart; returns the mails of each lead in the order received. */
  async function runSequence(engine: AppContext, campaignId: number, steps: number, perStep: number): Promise<Map<string, ParsedMail[]>> {
    workers = await startWorkers(engine, undefined, { schedule: false });
    for (let step = 1; step <= steps; step += 1) {
      await engine.ticks.runTick(campaignId, clock.now());
      await eventually(async () => (await statusCounts(engine, campaignId)).SENT === step * perStep, `step ${step} sent`);
      clock.advance(hour + 1000);
    }
    return byRecipient();
  }

  function byRecipient(): Map<string, ParsedMail[]> {
    const mails = new Map<string, ParsedMail[]>();
    for (const mail of smtp.received) {
      const to = recipientOf(mail) ?? '';
      mails.set(to, [...(mails.get(to) ?? []), mail]);
    }
    return mails;
  }

  async function messageRows(engine: AppContext, campaignId: number): Promise<MessageRow[]> {
    return (await engine.db('messages').where({ campaign_id: campaignId }).orderBy(['lead_id', 'step_index'])) as MessageRow[];
  }

  it('a three-email sequence: mails 2 and 3 are "Re: <first subject>", each in reply to the previous one, with the whole chain in References', async () => {
    const engine = context();
    const { campaignId } = await seedCampaign(engine, {
      leads: [sean, niamh],
      spec: liveSpec([
        { channel: 'email', subject: 'Quick question for <%= it.lead.company %>', body: 'Hi <%= it.lead.firstName %>, a question.' },
        { channel: 'email', delay: '1h', body: 'Hi <%= it.lead.firstName %>, following up.' },
        { channel: 'email', delay: '1h', body: 'Hi <%= it.lead.firstName %>, one last note.' },
      ]),
    });
    const received = await runSequence(engine, campaignId, 3, 2);
    for (const lead of [sean, niamh]) {
      const [first, second, third] = received.get(lead.email) ?? [];
      expect(first?.subject).to.equal(`Quick question for ${lead.company}`);
      expect(first?.inReplyTo).to.equal(undefined);
      expect(second?.subject).to.equal(`Re: Quick question for ${lead.company}`);
      expect(second?.inReplyTo).to.equal(first?.messageId);
      expect(referencesOf(second!)).to.deep.equal([first?.messageId]);
      expect(third?.subject, 'no "Re: Re:"').to.equal(`Re: Quick question for ${lead.company}`);
      expect(third?.inReplyTo).to.equal(second?.messageId);
      expect(referencesOf(third!)).to.deep.equal([first?.messageId, second?.messageId]);
      for (const mail of [first, second, third]) expect(mail?.from?.value[0]).to.deep.include({ name: 'Ada Lovelace', address: 'ada@drumbeat.example' });
    }
    const rows = await messageRows(engine, campaignId);
    expect(rows.map((row) => row.subject)).to.deep.equal([
      `Quick question for ${sean.company}`,
      `Re: Quick question for ${sean.company}`,
      `Re: Quick question for ${sean.company}`,
      `Quick question for ${niamh.company}`,
      `Re: Quick question for ${niamh.company}`,
      `Re: Quick question for ${niamh.company}`,
    ]);
  });

  it('a step with its own subject starts a new thread; thread: true keeps its own subject in the chain; the next follow-up replies to it', async () => {
    const engine = context();
    const { campaignId } = await seedCampaign(engine, {
      leads: [sean],
      spec: liveSpec([
        { channel: 'email', subject: 'Quick question for <%= it.lead.company %>', body: 'Hi, a question.' },
        { channel: 'email', delay: '1h', subject: 'A new topic', body: 'Something else.' },
        { channel: 'email', delay: '1h', subject: 'Still on that topic', thread: true, body: 'More on it.' },
        { channel: 'email', delay: '1h', body: 'Last one.' },
      ]),
    });
    const [first, second, third, fourth] = (await runSequence(engine, campaignId, 4, 1)).get(sean.email) ?? [];
    expect(first?.subject).to.equal('Quick question for AT&T <Labs>');
    expect(second?.subject).to.equal('A new topic');
    expect(second?.inReplyTo, 'its own subject: a new thread').to.equal(undefined);
    expect(referencesOf(second!)).to.deep.equal([]);
    expect(third?.subject).to.equal('Still on that topic');
    expect(third?.inReplyTo).to.equal(second?.messageId);
    expect(referencesOf(third!)).to.deep.equal([second?.messageId]);
    expect(fourth?.subject).to.equal('Re: Still on that topic');
    expect(fourth?.inReplyTo).to.equal(third?.messageId);
    expect(referencesOf(fourth!)).to.deep.equal([second?.messageId, third?.messageId]);
  });

  it('when the first email was not sent (rejected in review) the follow-up starts the thread with its subject; review and preview show the Re: subject the tick stores, which an edit cannot drop', async () => {
    const engine = context();
    const { campaignId } = await seedCampaign(engine, {
      leads: [sean, niamh],
      spec: liveSpec(
        [
          { channel: 'email', subject: 'Quick question for <%= it.lead.company %>', body: 'Hi <%= it.lead.firstName %>, a question.' },
          { channel: 'email', delay: '1h', body: 'Hi <%= it.lead.firstName %>, following up.' },
        ],
        { requireReview: true },
      ),
    });
    workers = await startWorkers(engine, undefined, { schedule: false });
    await engine.ticks.runTick(campaignId, clock.now());
    const held = await engine.reviews.list({ campaignId });
    expect(held.map((message) => message.format)).to.deep.equal(['text', 'text']);
    const heldFor = (email: string) => held.find((message) => message.recipient === email)!.id;
    await expect(engine.reviews.edit(heldFor(sean.email), { subject: null, body: 'Hi.' }, 'test'), 'an edit cannot drop the subject').to.be.rejectedWith(
      ReviewError,
      'an email needs a subject',
    );
    await engine.reviews.reject([heldFor(sean.email)], { by: 'test', reason: 'not this one' });
    await engine.reviews.approve([heldFor(niamh.email)], { by: 'test' });
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT === 1, "Niamh's first email sent");
    const niamhFirst = smtp.received[0]!;
    clock.advance(hour + 1000);

    const app = await startApp({ db: engine.db, apiRoutes: (router) => apiRoutes(router, engine) });
    const previews = new Map<string, Preview>();
    try {
      const { token } = await createApiToken(engine.db, 'reviewer');
      for (const lead of [sean, niamh]) {
        const response = await fetch(app.url(`/api/campaigns/${campaignId}/preview?lead=${encodeURIComponent(lead.email)}&step=2`), {
          headers: { authorization: `Bearer ${token}` },
        });
        previews.set(lead.email, ((await response.json()) as { preview: Preview }).preview);
      }
    } finally {
      await app.close();
    }
    expect(previews.get(niamh.email)).to.include({ subject: "Re: Quick question for Procter & Gamble", inReplyTo: niamhFirst.messageId, references: niamhFirst.messageId });
    expect(previews.get(sean.email)).to.include({ subject: 'Quick question for AT&T <Labs>', inReplyTo: null, references: null });

    await engine.ticks.runTick(campaignId, clock.now());
    const rows = (await messageRows(engine, campaignId)).filter((row) => row.step_index === 1);
    expect(rows.map((row) => row.subject).sort(), 'the tick stores what the preview showed').to.deep.equal(
      [previews.get(sean.email)?.subject, previews.get(niamh.email)?.subject].sort(),
    );
    const listed = await runDrumbeat(['review', 'list', '--campaign', String(campaignId)]);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout).to.include('subject: Re: Quick question for Procter & Gamble').and.include('subject: Quick question for AT&T <Labs>');

    await engine.reviews.approveCampaign(campaignId, { by: 'test' });
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT === 3, 'both follow-ups sent');
    const received = byRecipient();
    const [seanMail] = received.get(sean.email) ?? [];
    expect(seanMail?.subject).to.equal('Quick question for AT&T <Labs>');
    expect(seanMail?.inReplyTo, 'nothing to reply to').to.equal(undefined);
    expect(referencesOf(seanMail!)).to.deep.equal([]);
    const [, niamhSecond] = received.get(niamh.email) ?? [];
    expect(niamhSecond?.subject).to.equal('Re: Quick question for Procter & Gamble');
    expect(niamhSecond?.inReplyTo).to.equal(niamhFirst.messageId);
  });

  it('in PROOF mode the ledger records the follow-up subject and its reply headers', async () => {
    const engine = context();
    const { campaignId } = await seedCampaign(engine, {
      leads: [sean],
      spec: {
        mode: 'PROOF',
        steps: [
          { channel: 'email', subject: 'Quick question for <%= it.lead.company %>', body: 'Hi.' },
          { channel: 'email', delay: '1h', body: 'Following up.' },
        ],
      },
    });
    workers = await startWorkers(engine, undefined, { schedule: false });
    for (let step = 1; step <= 2; step += 1) {
      await engine.ticks.runTick(campaignId, clock.now());
      await eventually(async () => (await statusCounts(engine, campaignId)).SENT_PROOF === step, `step ${step} recorded`);
      clock.advance(hour + 1000);
    }
    const [first, second] = await messageRows(engine, campaignId);
    const proofs = (await engine.db('proof_deliveries').orderBy('id').select('subject', 'in_reply_to', 'thread_references')) as Array<
      Pick<MessageRow, 'subject' | 'in_reply_to' | 'thread_references'>
    >;
    expect(first?.provider_message_id).to.be.a('string');
    expect(proofs).to.deep.equal([
      { subject: 'Quick question for AT&T <Labs>', in_reply_to: null, thread_references: null },
      { subject: 'Re: Quick question for AT&T <Labs>', in_reply_to: first?.provider_message_id, thread_references: first?.provider_message_id },
    ]);
    expect(second).to.include({ in_reply_to: first?.provider_message_id, thread_references: first?.provider_message_id });
  });

  it('never sends an email without a subject: a first email step whose template has none is SKIPPED with the reason', async () => {
    const engine = context();
    await engine.templates.add({ name: 'no-subject', channel: 'email', body: 'Hi <%= it.lead.firstName %>.' }, 'test');
    const { campaignId } = await seedCampaign(engine, { leads: [sean], spec: { steps: [{ channel: 'email', template: 'no-subject' }] } });
    await engine.ticks.runTick(campaignId, clock.now());
    const [row] = (await engine.db('messages').where({ campaign_id: campaignId }).select('status', 'skip_reason')) as Array<{ status: string; skip_reason: string }>;
    expect(row).to.deep.equal({ status: 'SKIPPED', skip_reason: 'step 1 has no subject and no earlier email step to take one from' });
  });
});
