import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { identityHash } from '../../src/core/identity.js';
import { captureLeads } from '../../src/leads/lead-capture.js';
import { forgetLead, leadTimeline } from '../../src/leads/lead-privacy.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, makeLeads, runDrumbeat, seedCampaign } from '../support/engine.js';
import { startApp, type RunningApp } from '../http/http-harness.js';
import { clockNow } from '../support/clock.js';

describe('suppressions and erasure', function () {
  this.timeout(30_000);
  let ctx: AppContext;
  let app: RunningApp;
  let auth: Record<string, string>;
  let dir: string;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    ctx = engineContext({ clock: clockNow() });
    app = await startApp({ config: ctx.config, db: ctx.db, clock: ctx.clock, log: ctx.log, apiRoutes: (router) => apiRoutes(router, ctx) });
    auth = { authorization: `Bearer ${(await createApiToken(ctx.db, 'suppressions')).token}`, 'content-type': 'application/json' };
    dir = await mkdtemp(join(tmpdir(), 'drumbeat-suppress-'));
  });

  afterEach(async () => {
    await app.close();
    await ctx.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the admin API adds (email → email + identity, @domain, identity hash, per campaign), lists and removes suppressions', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: [], start: false });
    const add = (body: unknown) => fetch(app.url('/api/suppressions'), { method: 'POST', headers: auth, body: JSON.stringify(body) });
    expect((await add({ target: 'Someone@Example.com', reason: 'asked by phone' })).status).to.equal(201);
    expect((await add({ target: '@competitor.example', campaignId })).status).to.equal(201);
    expect((await add({ target: identityHash('ghost@example.com') })).status).to.equal(201);
    expect((await add({ target: 'not a target' })).status).to.equal(400);
    const listed = (await (await fetch(app.url('/api/suppressions'), { headers: auth })).json()) as { suppressions: Array<{ kind: string; value: string; campaignId: number | null; reason: string }> };
    expect(listed.suppressions.map((entry) => [entry.kind, entry.value, entry.campaignId])).to.deep.equal([
      ['email', 'someone@example.com', null],
      ['identity', identityHash('someone@example.com'), null],
      ['domain', 'competitor.example', campaignId],
      ['identity', identityHash('ghost@example.com'), null],
    ]);
    const removed = await fetch(app.url('/api/suppressions'), { method: 'DELETE', headers: auth, body: JSON.stringify({ target: 'someone@example.com' }) });
    expect(await removed.json()).to.deep.equal({ removed: 2 });
    const wrongScope = await fetch(app.url('/api/suppressions'), { method: 'DELETE', headers: auth, body: JSON.stringify({ target: '@competitor.example' }) });
    expect(wrongScope.status, 'a campaign suppression is lifted in its own scope only').to.equal(404);
  });

  it('`drumbeat suppress import` suppresses each line (address, @domain) and reports refused lines with their numbers', async () => {
    const file = join(dir, 'blocklist.csv');
    await writeFile(file, 'email\r\nA@one.example\r\n@two.example\r\nnonsense\r\n\r\nb@three.example,extra\r\n');
    const imported = await runDrumbeat(['suppress', 'import', file, '--reason', 'blocklist']);
    expect(imported.stdout).to.include('suppressed 3; refused 1').and.include('line 4:');
    expect(imported.code, 'refused lines make the exit code 1').to.equal(1);
    const rows = (await ctx.db('suppressions').where({ reason: 'blocklist' }).orderBy('id').select('kind', 'value')) as Array<{ kind: string; value: string }>;
    expect(rows.filter((row) => row.kind !== 'identity')).to.deep.equal([
      { kind: 'email', value: 'a@one.example' },
      { kind: 'domain', value: 'two.example' },
      { kind: 'email', value: 'b@three.example' },
    ]);
  });

  it('forgetting a lead erases personal data everywhere but keeps the identity suppressed, so a re-import is refused', async () => {
    const { campaignId } = await seedCampaign(ctx, { leads: makeLeads(2, 'gdpr') });
    await ctx.ticks.runTick(campaignId, ctx.clock.now());
    await ctx.db('inbox_events').insert({
      provider: 'drumbeat',
      event_id: 'e1',
      type: 'opened',
      payload: JSON.stringify({ type: 'opened', email: 'gdpr-0@example.com', occurredAt: ctx.clock.now().toISOString(), data: { ip: '203.0.113.1' } }),
    });
    await ctx.db('suppressions').insert({ kind: 'email', value: 'gdpr-0@example.com', reason: 'complaint', campaign_id: campaignId });

    await ctx.db('messages')
      .where({ recipient: 'gdpr-0@example.com' })
      .update({ last_error: '550 5.1.1 <gdpr-0@example.com>: mailbox unavailable', rejection_reason: 'Gdpr is a friend of the CEO' });

    const result = await forgetLead(ctx, 'GDPR-0@example.com', 'dpo');
    expect(result.found).to.equal(true);
    const lead = (await ctx.db('leads').where({ identity_hash: identityHash('gdpr-0@example.com') }).first()) as Record<string, unknown>;
    expect(lead).to.include({ email: null, first_name: null, last_name: null, company: null, linkedin_id: null });
    expect(lead.erased_at).to.be.instanceOf(Date);
    const message = (await ctx.db('messages').where({ lead_id: lead.id as number }).first('recipient', 'subject', 'body')) as Record<string, unknown>;
    expect(message).to.deep.equal({ recipient: null, subject: null, body: null });
    const notes = (await ctx.db('messages').where({ lead_id: lead.id as number }).whereNotNull('last_error').first('last_error', 'rejection_reason')) as Record<string, unknown>;
    expect(notes, 'the provider error keeps its meaning without the address; reviewer text goes').to.deep.equal({
      last_error: '550 5.1.1 <[erased address]>: mailbox unavailable',
      rejection_reason: '[erased]',
    });
    const state = (await ctx.db('campaign_leads').where({ lead_id: lead.id as number }).first('state')) as { state: string };
    expect(state.state).to.equal('SUPPRESSED');
    const inbox = (await ctx.db('inbox_events').first('payload')) as { payload: { email: unknown; data: unknown } };
    expect(inbox.payload).to.include({ email: null }).and.deep.include({ data: {} });
    const everything = JSON.stringify(await ctx.db('suppressions').select('*'));
    expect(everything, 'no suppression row holds the address').not.to.include('gdpr-0@example.com');
    expect(await ctx.db('suppressions').where({ kind: 'identity', value: identityHash('gdpr-0@example.com'), campaign_id: campaignId }).first('reason')).to.deep.equal({
      reason: 'complaint',
    });

    const again = await captureLeads(ctx, campaignId, [{ email: 'gdpr-0@example.com', first_name: 'Back', custom: {} }], { enroll: true });
    expect(again).to.include({ suppressed: 1, imported: 0 });
    const timeline = await leadTimeline(ctx.db, 'gdpr-0@example.com');
    expect(timeline.lead).to.include({ email: null });
    expect(timeline.suppressions.map((entry) => entry.reason)).to.include('erased on request');
    const other = (await ctx.db('leads').where({ email: 'gdpr-1@example.com' }).first('first_name')) as { first_name: string };
    expect(other.first_name, 'other leads untouched').to.equal('First1');
  });
});
