import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParsedMail } from 'mailparser';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { CampaignSpecError, parseCampaignSpec, type CampaignSpecInput } from '../../src/campaigns/campaign-spec.js';
import { TemplateValidationError } from '../../src/templates/validate.js';
import { emailParts } from '../../src/channels/email/smtp-adapter.js';
import type { Preview } from '../../src/messages/preview.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, runDrumbeat, seedCampaign, specFor, statusCounts } from '../support/engine.js';
import { startApp } from '../http/http-harness.js';
import { startPlatformServer, type PlatformServer, type RecordedRequest } from './platform-harness.js';
import { startSmtpServer, type SmtpHarness } from './smtp-harness.js';
import { escapedOnce, escapedTwice, htmlEntity, realNameLeads, recipientOf, visibleText } from './mail-reader.js';

const leads = realNameLeads();
const sean = leads.find((lead) => lead.lastName === "O'Brien")!;

/** The model's opening line, with the characters HTML would mangle. */
const openingFor = (firstName: string) => `Loved the R&D talk on <engines>, ${firstName}.`;

function completion(request: RecordedRequest) {
  const body = request.body as { model: string; messages: Array<{ role: string; content: string }> };
  const user = body.messages.find((message) => message.role === 'user')?.content ?? '';
  const lead = JSON.parse(user.slice(user.indexOf('Lead: ') + 'Lead: '.length)) as { firstName: string };
  const content = openingFor(lead.firstName);
  return {
    status: 200,
    body: {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 50, completion_tokens: 12, total_tokens: 62 },
    },
  };
}

const subject = 'For <%= it.lead.firstName %> <%= it.lead.lastName %> at <%= it.lead.company %>';
const bodies = {
  text: 'Hi <%= it.lead.firstName %> <%= it.lead.lastName %>,\n\nHow are things at <%= it.lead.company %>?\nOur notes: https://drumbeat.example/notes\n\nAda',
  html: '<p>Hi <%= it.lead.firstName %> <%= it.lead.lastName %>,</p>\n<p>How are things at <strong><%= it.lead.company %></strong>?<br>Our <a href="https://drumbeat.example/notes">notes</a></p>\n<p>Ada</p>',
} as const;

/** What every lead must read, in whichever part they look at. */
function expectedLines(lead: (typeof leads)[number]) {
  return [openingFor(lead.firstName), `Hi ${lead.firstName} ${lead.lastName},`, `How are things at ${lead.company}?`];
}

describe('what the recipient reads: one body format, escaped exactly once', function () {
  this.timeout(90_000);
  let smtp: SmtpHarness;
  let llm: PlatformServer;
  let ctx: AppContext | undefined;
  let workers: RunningWorkers | undefined;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    smtp = await startSmtpServer();
    llm = await startPlatformServer(completion);
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await ctx?.close();
    ctx = undefined;
    await llm.close();
    await smtp.close();
  });

  function context(): AppContext {
    ctx = engineContext({
      env: {
        SMTP_URL: smtp.url,
        PUBLIC_URL: 'https://drumbeat.example',
        POSTAL_ADDRESS: '1 Analytical Way, London',
        LLM_BASE_URL: `${llm.url}/v1`,
        LLM_API_KEY: 'sk-test',
        LLM_MODEL: 'test-model',
      },
    });
    return ctx;
  }

  const liveSpec = (steps: CampaignSpecInput['steps']): Partial<CampaignSpecInput> => ({
    mode: 'LIVE',
    from: { name: 'Ada Lovelace', email: 'ada@drumbeat.example' },
    steps,
  });

  /** Runs a one-step LIVE campaign to every lead and returns the mail each one received. */
  async function sendToEveryone(engine: AppContext, step: CampaignSpecInput['steps'][number]): Promise<Map<string, ParsedMail>> {
    const { campaignId } = await seedCampaign(engine, { leads, spec: liveSpec([step]) });
    await engine.ticks.runTick(campaignId, engine.clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT === leads.length, 'every lead sent');
    return new Map(smtp.received.map((mail) => [recipientOf(mail) ?? '', mail]));
  }

  for (const format of ['text', 'html'] as const) {
    it(`${format} body: subject, text part and visible HTML show every name as written, with the LLM line; the HTML escapes each character once`, async () => {
      const engine = context();
      const received = await sendToEveryone(engine, {
        channel: 'email',
        subject,
        body: bodies[format],
        // text is the default: a spec that does not say is a text body.
        ...(format === 'html' ? { format } : {}),
        personalize: { prompt: 'Open with their work.' },
      });
      expect(received.size).to.equal(leads.length);
      for (const lead of leads) {
        const mail = received.get(lead.email);
        expect(mail, lead.email).to.not.equal(undefined);
        const text = mail!.text ?? '';
        const html = typeof mail!.html === 'string' ? mail!.html : '';
        expect(mail!.subject, 'the subject is never escaped').to.equal(`For ${lead.firstName} ${lead.lastName} at ${lead.company}`);
        for (const line of expectedLines(lead)) {
          expect(text, `text part of ${lead.email}`).to.include(line);
          expect(visibleText(mail!), `visible HTML of ${lead.email}`).to.include(line);
        }
        expect(text, `text part of ${lead.email} holds no HTML`).to.not.match(htmlEntity);
        expect(text).to.include('1 Analytical Way, London').and.match(/Unsubscribe: https:\/\/drumbeat\.example\/u\//);
        expect(html, `HTML of ${lead.email} escapes nothing twice`).to.not.match(escapedTwice);
        for (const value of [lead.firstName, lead.lastName, lead.company, openingFor(lead.firstName)]) {
          expect(html, `${value} escaped once in the HTML of ${lead.email}`).to.match(escapedOnce(value));
        }
        expect(html, 'the link is clickable').to.include('<a href="https://drumbeat.example/notes">');
        expect(html).to.match(/<a href="https:\/\/drumbeat\.example\/u\/[A-Za-z0-9_-]+">Unsubscribe<\/a>/);
      }
      if (format === 'text') {
        // A text body is the text part verbatim: the LLM line, then the rendered template.
        const mail = received.get(sean.email)!;
        expect(mail.text).to.match(
          /^Loved the R&D talk on <engines>, Seán\.\n\nHi Seán O'Brien,\n\nHow are things at AT&T <Labs>\?\nOur notes: https:\/\/drumbeat\.example\/notes\n\nAda\n/,
        );
        expect(mail.html).to.include('<p>Loved the R&amp;D talk on &lt;engines&gt;, Seán.</p>');
        expect(mail.html).to.include('<p>Hi Seán O&#39;Brien,</p>');
      } else {
        const mail = received.get(sean.email)!;
        expect(mail.html).to.include('<p>Loved the R&amp;D talk on &lt;engines&gt;, Seán.</p>\n<p>Hi Seán O&#39;Brien,</p>');
        expect(mail.html).to.include('<strong>AT&amp;T &lt;Labs&gt;</strong>');
        expect(mail.text).to.include('Our notes [https://drumbeat.example/notes]');
      }
    });
  }

  it('a text template previews (CLI and API) as the lead will read it, and its test-send decodes exactly like the campaign email', async () => {
    const engine = context();
    await engine.templates.add({ name: 'intro', channel: 'email', subject, body: bodies.text }, 'test');
    const { campaignId } = await seedCampaign(engine, { leads: [sean], spec: liveSpec([{ channel: 'email', template: 'intro' }]) });
    const expectedBody = "Hi Seán O'Brien,\n\nHow are things at AT&T <Labs>?\nOur notes: https://drumbeat.example/notes\n\nAda";

    const printed = await runDrumbeat(['template', 'preview', 'intro', '--lead', sean.email, '--campaign', String(campaignId)]);
    expect(printed.code, printed.stderr).to.equal(0);
    expect(printed.stdout).to.include("subject: For Seán O'Brien at AT&T <Labs>").and.include(expectedBody);
    expect(printed.stdout).to.not.match(htmlEntity);
    expect(printed.stdout).to.include('format: text');

    const app = await startApp({ db: engine.db, apiRoutes: (router) => apiRoutes(router, engine) });
    try {
      const { token } = await createApiToken(engine.db, 'reader');
      const response = await fetch(app.url(`/api/campaigns/${campaignId}/preview?lead=${encodeURIComponent(sean.email)}&step=1`), {
        headers: { authorization: `Bearer ${token}` },
      });
      const { preview } = (await response.json()) as { preview: Preview };
      expect(preview).to.include({ format: 'text', subject: "For Seán O'Brien at AT&T <Labs>", body: expectedBody, sendable: true });
    } finally {
      await app.close();
    }

    await engine.ticks.runTick(campaignId, engine.clock.now());
    workers = await startWorkers(engine, undefined, { schedule: false });
    await eventually(async () => (await statusCounts(engine, campaignId)).SENT === 1, 'the campaign email sent');
    const sent = await runDrumbeat(
      ['template', 'test-send', 'intro', '--to', 'operator@drumbeat.example', '--lead', sean.email, '--campaign', String(campaignId)],
      { SMTP_URL: smtp.url, PUBLIC_URL: 'https://drumbeat.example', POSTAL_ADDRESS: '1 Analytical Way, London' },
    );
    expect(sent.code, sent.stderr).to.equal(0);
    expect(sent.stdout).to.match(/^test email sent to operator@drumbeat\.example via smtp/m);

    const campaignMail = smtp.received.find((mail) => recipientOf(mail) === sean.email)!;
    const testMail = smtp.received.find((mail) => recipientOf(mail) === 'operator@drumbeat.example')!;
    expect(testMail, 'the test email arrived').to.not.equal(undefined);
    expect(testMail.subject).to.equal(`[TEST] ${campaignMail.subject}`);
    // Only the unsubscribe link differs: a test email is tied to no lead.
    const sameLink = (text: string) => text.replace(/https:\/\/drumbeat\.example\/u\/[A-Za-z0-9_-]+/g, '<unsubscribe>');
    expect(sameLink(testMail.text ?? '')).to.equal(sameLink(campaignMail.text ?? ''));
    expect(sameLink(visibleText(testMail))).to.equal(sameLink(visibleText(campaignMail)));
    expect(sameLink(testMail.html as string)).to.equal(sameLink(campaignMail.html as string));
    expect(testMail.text).to.include(expectedBody);
  });
});

describe('the parts of an email made from its body', () => {
  it('a text body becomes HTML once: paragraphs at blank lines, <br> at line breaks, links clickable without the sentence around them', () => {
    const body = "Hi Seán O'Brien,\r\n\r\nSee https://drumbeat.example/a?b=1&c=2. Or (https://en.wikipedia.org/wiki/Foo_(bar)).\nThanks,\n\n\n  Ada";
    const { text, html } = emailParts(body, 'text', 'https://drumbeat.example/u/t', 'AT&T <Labs>, 1 Main St');
    expect(text).to.equal(`${body}\n\n--\nAT&T <Labs>, 1 Main St\nUnsubscribe: https://drumbeat.example/u/t\n`);
    expect(html).to.include(
      [
        '<p>Hi Seán O&#39;Brien,</p>',
        '<p>See <a href="https://drumbeat.example/a?b=1&amp;c=2">https://drumbeat.example/a?b=1&amp;c=2</a>. ' +
          'Or (<a href="https://en.wikipedia.org/wiki/Foo_(bar)">https://en.wikipedia.org/wiki/Foo_(bar)</a>).<br>',
        'Thanks,</p>',
        '<p>Ada</p>',
      ].join('\n'),
    );
    expect(html).to.include('AT&amp;T &lt;Labs&gt;, 1 Main St<br><a href="https://drumbeat.example/u/t">Unsubscribe</a>');
  });

  it('an html body is the HTML part as is (a whole document keeps its <body>); its text part is derived, headings in their own case', () => {
    const body = '<html><body><h1>Hi Seán O&#39;Brien</h1><p>AT&amp;T &lt;Labs&gt; <a href="https://drumbeat.example/notes">notes</a></p></body></html>';
    const { text, html } = emailParts(body, 'html', 'https://drumbeat.example/u/t', undefined);
    expect(text).to.equal("Hi Seán O'Brien\n\nAT&T <Labs> notes [https://drumbeat.example/notes]\n\n--\nUnsubscribe: https://drumbeat.example/u/t\n");
    expect(html).to.match(/^<html><body><h1>Hi Seán O&#39;Brien<\/h1>.*<\/p>\n<hr><p [^>]*><a href="https:\/\/drumbeat\.example\/u\/t">Unsubscribe<\/a><\/p>\n<\/body><\/html>$/s);
  });
});

describe('the body format in specs and templates', function () {
  this.timeout(60_000);
  let ctx: AppContext | undefined;
  let dir: string | undefined;

  beforeEach(async () => {
    await resetDatabase();
    ctx = engineContext();
  });

  afterEach(async () => {
    await ctx?.close();
    ctx = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('refuses html on a social step or variant, and thread on a social step, naming the field', () => {
    const problems = (steps: CampaignSpecInput['steps']) => {
      try {
        parseCampaignSpec(specFor({ steps }));
        return [];
      } catch (error) {
        if (error instanceof CampaignSpecError) return error.problems;
        throw error;
      }
    };
    expect(problems([{ channel: 'linkedin', body: 'Hi', format: 'html' }])).to.deep.equal([
      'steps.0.format: linkedin messages are plain text; only email can be html',
    ]);
    expect(
      problems([
        {
          channel: 'x',
          variants: [
            { name: 'a', body: 'A' },
            { name: 'b', body: '<b>B</b>', format: 'html' },
          ],
        },
      ]),
    ).to.deep.equal(['steps.0.variants.1.format: x messages are plain text; only email can be html']);
    expect(problems([{ channel: 'instagram', body: 'Hi', thread: true }])).to.deep.equal(['steps.0.thread: only email steps thread']);
    expect(problems([{ channel: 'email', subject: 'Hi', body: '<p>Hi</p>', format: 'html' }])).to.deep.equal([]);
  });

  it('refuses a first email step without a subject, also after a social step or in a variant, and accepts later ones without', () => {
    const attempt = (steps: CampaignSpecInput['steps']) => () => parseCampaignSpec(specFor({ steps }));
    expect(attempt([{ channel: 'linkedin', body: 'Hi' }, { channel: 'email', body: 'Hi' }])).to.throw(CampaignSpecError, 'steps.1.subject: the first email step needs a subject');
    expect(
      attempt([
        {
          channel: 'email',
          variants: [
            { name: 'a', subject: 'A', body: 'A' },
            { name: 'b', body: 'B' },
          ],
        },
      ]),
    ).to.throw(CampaignSpecError, 'steps.0.variants.1.subject: the first email step needs a subject');
    expect(attempt([{ channel: 'email', subject: 'Hi', body: 'Hi' }, { channel: 'email', body: 'Following up' }])).to.not.throw();
  });

  it('saves a template with --format html from the CLI and shows it; an html template for a social channel is refused', async () => {
    dir = await mkdtemp(join(tmpdir(), 'drumbeat-format-'));
    const body = join(dir, 'body.eta');
    await writeFile(body, '<p>Hi <%= it.lead.firstName %></p>');
    const added = await runDrumbeat(['template', 'add', 'rich', '--channel', 'email', '--subject', 'Hi', '--body', body, '--format', 'html']);
    expect(added.code, added.stderr).to.equal(0);
    const shown = await runDrumbeat(['template', 'show', 'rich']);
    expect(shown.stdout).to.include('format: html');
    const refused = await runDrumbeat(['template', 'add', 'dm', '--channel', 'linkedin', '--body', body, '--format', 'html']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include('a linkedin template is plain text; only email templates can be html');

    const updated = await ctx!.templates.update((await ctx!.templates.byName('rich')).id, { body: '<p>Hello <%= it.lead.firstName %></p>' }, 'test');
    expect(updated.version.format, 'an update keeps the format unless told').to.equal('html');
    await expect(ctx!.templates.add({ name: 'dm', channel: 'x', body: '<b>x</b>', format: 'html' }, 'test')).to.be.rejectedWith(TemplateValidationError, 'plain text');
  });
});
