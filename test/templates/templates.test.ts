import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { renderTemplate, TemplateRenderError } from '../../src/templates/render.js';
import { TemplateValidationError } from '../../src/templates/validate.js';
import { findPlaceholders } from '../../src/templates/placeholders.js';
import { chooseVariant } from '../../src/campaigns/compose-message.js';
import { previewCampaignStep, previewTemplate } from '../../src/messages/preview.js';
import { CampaignSpecError, parseCampaignSpec } from '../../src/campaigns/campaign-spec.js';
import { campaignReport } from '../../src/analytics/campaign-report.js';
import { eventually, freshEngine, freshEngineWithClock, ledger, makeLeads, seedCampaign, specFor, statusCounts } from '../support/engine.js';

const context = (lead: Partial<{ firstName: string | null; company: string | null; custom: Record<string, unknown> }> = {}) => ({
  lead: { email: 'a@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Acme', custom: {}, ...lead },
  campaign: { name: 'Spring', slug: 'spring' },
});

describe('templates: strict rendering and save-time validation', () => {
  const engine = freshEngine();

  it('refuses to save a template using an unknown variable, naming the variable and its line; nothing is stored', async () => {
    const ctx = engine.ctx;
    const body = 'Hello <%= it.lead.firstName %>,\n\nyour plan:\n<%= it.lead.custom.plan %> at <%= it.lead.compnay %>';
    const error = await ctx.templates.add({ name: 'welcome', channel: 'email', subject: 'Hi', body }, 'test').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(TemplateValidationError);
    const message = (error as Error).message;
    expect(message).to.include('body line 4: unknown variable it.lead.custom.plan');
    expect(message).to.include('body line 4: unknown variable it.lead.compnay');
    expect(await ctx.templates.list()).to.deep.equal([]);

    const saved = await ctx.templates.add({ name: 'welcome', channel: 'email', subject: 'Hi', body: body.replace('compnay', 'company'), customFields: ['plan'] }, 'test');
    expect(saved.version.version).to.equal(1);
  });

  it('refuses templates that do not compile, print raw output, or reach outside their data', async () => {
    const ctx = engine.ctx;
    const cases: Array<[string, string]> = [
      ['Hi\n<%= it.lead.firstName ', 'body line 2: unclosed tag'],
      ['Hi <%~ it.lead.firstName %>', 'raw output'],
      ['Hi <%= process.env.DATABASE_URL %>', '"process" is not allowed'],
      ['Hi <%= it.lead["firstName"] %>', 'unknown variable it.lead[…]'],
      ['Hi <%= it.campaign.owner %>', 'unknown variable it.campaign.owner'],
    ];
    for (const [body, expected] of cases) {
      await expect(ctx.templates.add({ name: 'bad', channel: 'email', subject: 'Hi', body }, 'test'), body).to.be.rejectedWith(TemplateValidationError, expected);
    }
    expect(() => parseCampaignSpec(specFor({ steps: [{ channel: 'email', subject: 'Hi', body: 'Dear <%= it.lead.nickname %>' }] }))).to.throw(
      CampaignSpecError,
      'steps.0.body: line 1: unknown variable it.lead.nickname',
    );
  });

  it('a missing value is an error naming the expression and line, never the text "undefined"', () => {
    expect(() => renderTemplate('Hi\n<%= it.lead.company %>!', context({ company: null }))).to.throw(TemplateRenderError, 'missing value for it.lead.company (line 2)');
    expect(() => renderTemplate('Hi <%= it.lead.custom.plan %>', context())).to.throw(TemplateRenderError, 'missing value for it.lead.custom.plan');
    expect(() => renderTemplate('Hi <%= it.lead.firstName %>', context({ firstName: '  ' }))).to.throw(TemplateRenderError, 'empty');
    expect(() => renderTemplate('<%= it.lead.custom.n %>', context({ custom: { n: Number.NaN } }))).to.throw(TemplateRenderError, 'not a finite number');
    expect(() => renderTemplate('<%= it.lead.custom.o %>', context({ custom: { o: { a: 1 } } }))).to.throw(TemplateRenderError, 'not printable');
    // Optional fields still work in conditions: only printing a missing value fails.
    expect(renderTemplate('Hi<% if (it.lead.company) { %> from <%= it.lead.company %><% } %>.', context({ company: null }))).to.equal('Hi.');
  });

  it('HTML-escapes values when asked (html bodies), so a lead named <script> stays text', () => {
    const evil = '<script>alert("x")</script> & co';
    expect(renderTemplate('<p>Hi <%= it.lead.firstName %></p>', context({ firstName: evil }), 'html')).to.equal(
      '<p>Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</p>',
    );
    // Text (subjects, text bodies, social messages) is not HTML and keeps the values as they are.
    expect(renderTemplate('Hi <%= it.lead.firstName %>', context({ firstName: 'Tom & Jerry' }), 'none')).to.equal('Hi Tom & Jerry');
  });

  it('finds every placeholder pattern, and nothing in clean text', () => {
    const leftovers = ['{{first_name}}', 'x }} y', '<% x', 'y %>', 'TODO: fix', 'price TBD', '[PLACEHOLDER]', '[Your Name]', '<VALUE>', '&lt;VALUE&gt;', 'undefined', 'null', 'NaN', '[object Object]'];
    for (const leftover of leftovers) {
      expect(findPlaceholders({ subject: null, body: `Hello ${leftover} there` }), leftover).to.have.length.greaterThan(0);
    }
    expect(findPlaceholders({ subject: 'Tom & Jerry [2024] <b>', body: '<p>Hi Ada, see [read more](https://x.test) — todo list, nullable, 3 < 4 > 2</p>' })).to.deep.equal([]);
  });
});

describe('templates: in the campaign engine', function () {
  this.timeout(30_000);
  const engine = freshEngineWithClock();
  const { clock } = engine;
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  it('each placeholder pattern in the rendered output blocks the send: SKIPPED with the reason and the offending text', async () => {
    const leftovers = ['{{first_name}}', 'ends }}', '<% x', 'x %>', 'TODO', 'TBD', '[PLACEHOLDER]', '[Your Name]', '<VALUE>', 'undefined', 'null', 'NaN', '[object Object]'];
    const leads = [
      ...leftovers.map((leftover, index) => ({ email: `p${index}@example.com`, firstName: 'P', custom: { note: `see ${leftover} here` } })),
      { email: 'clean@example.com', firstName: 'C', custom: { note: 'all good' } },
    ];
    const { campaignId } = await seedCampaign(ctx, {
      leads,
      spec: { customFields: ['note'], steps: [{ channel: 'email', subject: 'Hi', format: 'html', body: '<p>Note: <%= it.lead.custom.note %></p>' }] },
    });
    await engine.startWorkers();
    await ctx.ticks.runTick(campaignId, clock.now());
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 1, 'the clean message sent');
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ SENT_PROOF: 1, SKIPPED: leftovers.length });
    const recipients = ((await ctx.db('proof_deliveries').select('recipient')) as Array<{ recipient: string }>).map((row) => row.recipient);
    expect(recipients).to.deep.equal(['clean@example.com']);
    const skipped = (await ctx.db('messages').where({ status: 'SKIPPED' }).orderBy('lead_id').select('skip_reason', 'recipient')) as Array<{ skip_reason: string; recipient: string }>;
    skipped.forEach((row, index) => {
      expect(row.skip_reason, leftovers[index]).to.match(/^placeholder left in output: /);
      expect(row.skip_reason, leftovers[index]).to.include('in body: "');
    });
    expect(skipped[0]?.skip_reason).to.include('{{ in body: "<p>Note: see {{first_name}} here</p…"');
    expect(skipped[8]?.skip_reason, 'escaped <VALUE> still caught').to.include('&lt;VALUE&gt;');
  });

  it('records the template version on each message, logs each render with hashes and counts usage', async () => {
    const { template, version: v1 } = await ctx.templates.add({ name: 'intro', channel: 'email', subject: 'Hi <%= it.lead.firstName %>', body: 'v1 <%= it.lead.company %>' }, 'test');
    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(2),
      spec: {
        steps: [
          { channel: 'email', template: 'intro' },
          { channel: 'email', delay: '1h', template: 'intro' },
        ],
      },
    });
    await ctx.ticks.runTick(campaignId, clock.now());
    const v2 = (await ctx.templates.update(template.id, { body: 'v2 <%= it.lead.firstName %>' }, 'editor')).version;
    expect(v2.version).to.equal(2);
    expect(v2.subject, 'subject kept when not given').to.equal('Hi <%= it.lead.firstName %>');
    // The first step's messages keep v1; advance them as sent and render step 2 from v2.
    await ctx.db('messages').update({ status: 'SENT' });
    await ctx.db('campaign_leads').update({ current_step: 1, state: 'ACTIVE', next_action_at: clock.now() });
    clock.advance(1000);
    await ctx.ticks.runTick(campaignId, clock.now());
    const messages = (await ctx.db('messages').orderBy(['step_index', 'lead_id']).select('step_index', 'template_version_id', 'subject', 'body')) as Array<{
      step_index: number;
      template_version_id: number;
      subject: string;
      body: string;
    }>;
    expect(messages.map((message) => [message.step_index, message.template_version_id, message.body])).to.deep.equal([
      [0, v1.id, 'v1 Acme'],
      [0, v1.id, 'v1 Acme'],
      [1, v2.id, 'v2 First0'],
      [1, v2.id, 'v2 First1'],
    ]);
    const renders = (await ctx.db('template_renders').orderBy('id')) as Array<{ template_version_id: number; message_id: number; context_hash: string; output_hash: string }>;
    expect(renders).to.have.length(4);
    for (const render of renders) {
      expect(render.context_hash).to.match(/^[0-9a-f]{64}$/);
      expect(render.output_hash).to.match(/^[0-9a-f]{64}$/);
    }
    const shown = await ctx.templates.show(template.id);
    expect(shown.usage).to.deep.equal({ renders: 4, byVersion: [{ version: 1, renders: 2 }, { version: 2, renders: 2 }] });
    expect(shown.versions.map((version) => version.createdBy)).to.deep.equal(['test', 'editor']);
  });

  it('an inactive template cannot be rendered: its messages are SKIPPED and previews say so', async () => {
    const { template } = await ctx.templates.add({ name: 'promo', channel: 'email', subject: 'Hi', body: 'Offer for <%= it.lead.firstName %>' }, 'test');
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(2), spec: { steps: [{ channel: 'email', template: 'promo' }] } });
    await ctx.templates.setActive(template.id, false);
    const preview = await previewTemplate(ctx.db, template.id, 'lead-0@example.com');
    expect(preview).to.include({ sendable: false, body: null, reason: 'template "promo" is inactive' });
    await ctx.ticks.runTick(campaignId, clock.now());
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ SKIPPED: 2 });
    const reasons = (await ctx.db('messages').pluck('skip_reason')) as string[];
    expect(new Set(reasons)).to.deep.equal(new Set(['template "promo" is inactive']));
    expect(await ctx.db('template_renders').count('* as count')).to.deep.equal([{ count: 0 }]);
    // A campaign cannot be saved against an inactive template either.
    await expect(ctx.campaigns.create(parseCampaignSpec(specFor({ steps: [{ channel: 'email', template: 'promo' }] })))).to.be.rejectedWith(CampaignSpecError, 'inactive');
  });

  it('chooses A/B variants deterministically by lead and step, in proportion to weight, records and reports them', async () => {
    const variants = [
      { name: 'A', weight: 3, templateId: null, subject: 'A', body: 'a', format: 'text' as const },
      { name: 'B', weight: 1, templateId: null, subject: 'B', body: 'b', format: 'text' as const },
    ];
    const picks = Array.from({ length: 4000 }, (_, lead) => chooseVariant(1, lead, 0, variants).name);
    expect(Array.from({ length: 4000 }, (_, lead) => chooseVariant(1, lead, 0, variants).name)).to.deep.equal(picks);
    const shareA = picks.filter((name) => name === 'A').length / picks.length;
    expect(shareA).to.be.within(0.72, 0.78);

    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(40),
      spec: {
        steps: [
          {
            channel: 'email',
            variants: [
              { name: 'short', weight: 1, subject: 'Hi', body: 'Short <%= it.lead.firstName %>' },
              { name: 'long', weight: 1, subject: 'Hello', body: 'A longer note, <%= it.lead.firstName %>' },
            ],
          },
        ],
      },
    });
    await ctx.ticks.runTick(campaignId, clock.now());
    const messages = (await ctx.db('messages').select('lead_id', 'variant', 'body', 'recipient')) as Array<{ lead_id: number; variant: string; body: string; recipient: string }>;
    expect(new Set(messages.map((message) => message.variant))).to.deep.equal(new Set(['short', 'long']));
    for (const message of messages.slice(0, 5)) {
      expect(message.body.startsWith(message.variant === 'short' ? 'Short' : 'A longer')).to.equal(true);
      const preview = await previewCampaignStep(ctx.db, campaignId, message.recipient, 1);
      expect(preview, 'the preview shows exactly what was composed').to.include({ variant: message.variant, body: message.body, sendable: true });
    }
    const report = await campaignReport(ctx.db, campaignId);
    const short = messages.filter((message) => message.variant === 'short').length;
    expect(report.byVariant).to.deep.include({ step: 1, variant: 'short', messages: short, queued: short, sent: 0, sentProof: 0, skipped: 0, pendingReview: 0, rejected: 0, replied: 0 });
    expect(await ledger(ctx, campaignId)).to.deep.equal({ rows: 0, distinct: 0 });
  });
});
