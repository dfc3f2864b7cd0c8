import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { testDb } from '../setup/hooks.js';
import { freshEngine, makeLeads, runDrumbeat, seedCampaign, specFor, statusCounts } from '../support/engine.js';
import { startApp, type RunningApp } from '../http/http-harness.js';
import { previewTemplate } from '../../src/messages/preview.js';
import { templateEscapePayloads } from './corpus.js';

/** What a payload would do if it ran: write this file (it must never exist) or set a global. */
const canary = join(tmpdir(), `drumbeat-canary-${process.pid}`);
const canaryGlobal = 'drumbeatTemplateCanary';
/** The escape corpus, aimed at this process's canary file and global. */
const payloads = templateEscapePayloads(canary, canaryGlobal);

function untouched(): void {
  expect(existsSync(canary), 'the canary file was never written').to.equal(false);
  expect((globalThis as Record<string, unknown>)[canaryGlobal], 'the canary global was never set').to.equal(undefined);
}

describe('templates cannot run code, read files or reach secrets, through any route or command', function () {
  this.timeout(120_000);
  const engine = freshEngine();
  let ctx: AppContext;
  let app: RunningApp;
  let headers: Record<string, string>;
  let dir: string;

  beforeEach(async () => {
    ctx = engine.ctx;
    app = await startApp({ config: ctx.config, db: ctx.db, clock: ctx.clock, apiRoutes: (router) => apiRoutes(router, ctx) });
    headers = { authorization: `Bearer ${(await createApiToken(testDb(), 'attacker')).token}`, 'content-type': 'application/json' };
    dir = await mkdtemp(join(tmpdir(), 'drumbeat-injection-'));
  });

  afterEach(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
    untouched();
  });

  async function call(method: string, path: string, body: unknown): Promise<number> {
    const response = await fetch(app.url(path), { method, headers, body: JSON.stringify(body) });
    await response.arrayBuffer();
    return response.status;
  }

  it('POST and PUT /api/templates refuse every payload, in the body and in the subject', async () => {
    const created = await fetch(app.url('/api/templates'), {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'good', channel: 'email', subject: 'Hi', body: 'Hi <%= it.lead.firstName %>' }),
    });
    expect(created.status).to.equal(201);
    const { template } = (await created.json()) as { template: { id: number } };
    for (const [kind, payload] of payloads) {
      expect(await call('POST', '/api/templates', { name: `bad-${kind}`, channel: 'email', subject: 'Hi', body: payload }), `POST body: ${kind}`).to.equal(400);
      expect(await call('POST', '/api/templates', { name: `bad-${kind}`, channel: 'email', subject: payload.replace(/\n/g, ' '), body: 'Hi' }), `POST subject: ${kind}`).to.equal(400);
      expect(await call('PUT', `/api/templates/${template.id}`, { body: payload }), `PUT body: ${kind}`).to.equal(400);
    }
    expect(await testDb()('templates').count('* as count')).to.deep.equal([{ count: 1 }]);
    expect(await testDb()('template_versions').count('* as count')).to.deep.equal([{ count: 1 }]);
    untouched();
  });

  it('a literal fallback that looks like code is printed as text, never run', async () => {
    const lookalike = `<%= it.lead.lastName || "x\\" + (globalThis.${canaryGlobal}=1) + \\"" %>`;
    const created = await fetch(app.url('/api/templates'), { method: 'POST', headers, body: JSON.stringify({ name: 'lookalike', channel: 'email', subject: 'Hi', body: lookalike }) });
    expect(created.status).to.equal(201);
    const { template } = (await created.json()) as { template: { id: number } };
    const { leadIds } = await seedCampaign(ctx, { leads: [{ email: 'nolast@example.com', firstName: 'Ada' }], start: false });
    const preview = await previewTemplate(ctx.db, template.id, String(leadIds[0]));
    expect(preview.body).to.equal(`x" + (globalThis.${canaryGlobal}=1) + "`);
    untouched();
  });

  it('PUT /api/campaigns/:id/sequence refuses every payload as an inline body, subject or variant', async () => {
    const { campaignId } = await seedCampaign(ctx, { start: false });
    for (const [kind, payload] of payloads) {
      const inline = specFor({ steps: [{ channel: 'email', subject: 'Hi', body: payload }] });
      const subject = specFor({ steps: [{ channel: 'email', subject: payload.replace(/\n/g, ' '), body: 'Hi' }] });
      const variant = specFor({
        steps: [{ channel: 'email', subject: 'Hi', variants: [{ name: 'a', body: 'Hi' }, { name: 'b', subject: 'Yo', body: payload }] }],
      });
      for (const [where, spec] of [
        ['body', inline],
        ['subject', subject],
        ['variant', variant],
      ] as const) {
        expect(await call('PUT', `/api/campaigns/${campaignId}/sequence`, spec), `${where}: ${kind}`).to.equal(400);
      }
    }
    untouched();
  });

  it('the CLI refuses payloads in template add/update, campaign create and campaign edit, exiting 1', async () => {
    // Payloads that would write the canary file: a spawned process's globals cannot be seen from here.
    const sample = payloads.filter(([kind]) => ['constructor chain', 'unicode escape of a name', 'exec tag with whitespace control', 'require'].includes(kind));
    const good = join(dir, 'good.eta');
    await writeFile(good, 'Hi <%= it.lead.firstName %>');
    expect((await runDrumbeat(['template', 'add', 'good', '--channel', 'email', '--body', good, '--subject', 'Hi'])).code).to.equal(0);
    const { campaignId } = await seedCampaign(ctx, { start: false });
    for (const [index, [kind, payload]] of sample.entries()) {
      const body = join(dir, `payload-${index}.eta`);
      await writeFile(body, payload);
      const specFile = join(dir, `spec-${index}.json`);
      await writeFile(specFile, JSON.stringify(specFor({ steps: [{ channel: 'email', subject: 'Hi', body: payload }] })));
      for (const args of [
        ['template', 'add', `bad${index}`, '--channel', 'email', '--body', body, '--subject', 'Hi'],
        ['template', 'update', 'good', '--body', body],
        ['campaign', 'create', specFile],
        ['campaign', 'edit', String(campaignId), '--file', specFile],
      ]) {
        const run = await runDrumbeat(args);
        expect(run.code, `${args.slice(0, 2).join(' ')}: ${kind}`).to.equal(1);
        expect(run.stderr.trim().split('\n'), `one line: ${kind}`).to.have.length(1);
      }
    }
    untouched();
  });

  it('a stored template that no longer passes renders nothing: its messages are SKIPPED with the reason, previews run nothing', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(2) });
    // Written past every save-time check, as a tampered or legacy row would be.
    for (const [kind, payload] of payloads.slice(0, 6)) {
      await testDb()('campaign_steps').where({ campaign_id: campaignId, step_index: 0 }).update({ body: payload });
      const preview = await fetch(app.url(`/api/campaigns/${campaignId}/preview?lead=lead-0@example.com&step=1`), { headers });
      expect(preview.status, kind).to.equal(200);
      const shown = (await preview.json()) as { preview: { sendable: boolean; reason: string } };
      expect(shown.preview.sendable, kind).to.equal(false);
      expect(shown.preview.reason, kind).to.match(/render failed/);
    }
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ SKIPPED: 2 });
    const reasons = (await testDb()('messages').where({ campaign_id: campaignId }).pluck('skip_reason')) as string[];
    for (const reason of reasons) expect(reason).to.match(/^render failed: /);
    untouched();
  });
});
