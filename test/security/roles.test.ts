import { expect } from 'chai';
import type { Router } from 'express';
import type { AppContext } from '../../src/runtime/context.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import type { RunningApp } from '../http/http-harness.js';
import { freshEngineWithClock, makeLeads, seedCampaign } from '../support/engine.js';
import { bearerFor, callJson, startApiApp } from './security-support.js';

const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every (method, path) that `apiRoutes` mounts, recorded through a stand-in router. */
function mountedApiRoutes(ctx: AppContext): Array<{ method: (typeof methods)[number]; path: string }> {
  const routes: Array<{ method: (typeof methods)[number]; path: string }> = [];
  const recorder = new Proxy({} as Router, {
    get: (_target, property) => {
      if (methods.includes(property as (typeof methods)[number])) {
        return (path: string) => {
          routes.push({ method: property as (typeof methods)[number], path });
          return recorder;
        };
      }
      return () => recorder;
    },
  });
  apiRoutes(recorder, ctx);
  return routes;
}

describe('security: roles on the admin API', function () {
  this.timeout(30_000);
  const engine = freshEngineWithClock();
  let ctx: AppContext;
  let app: RunningApp;

  beforeEach(async () => {
    ctx = engine.ctx;
    app = await startApiApp(ctx);
  });

  afterEach(() => app.close());

  it('lets a viewer token read but refuses it every change with 403 and one sentence, before anything happens', async () => {
    const { campaignId } = await seedCampaign(ctx);
    const viewer = await bearerFor(ctx, 'viewer');
    const listed = await callJson(app, 'GET', '/api/campaigns', viewer.authorization);
    expect(listed.status).to.equal(200);
    expect((listed.json.campaigns as unknown[]).length).to.equal(1);
    expect((await callJson(app, 'GET', `/api/campaigns/${campaignId}/report`, viewer.authorization)).status).to.equal(200);

    const pause = await callJson(app, 'POST', `/api/campaigns/${campaignId}/pause`, viewer.authorization);
    expect(pause.status).to.equal(403);
    expect(pause.json).to.deep.equal({ error: 'your role (viewer) may not approve, start, pause, resume or archive campaigns; that needs admin or operator' });
    expect((await ctx.campaigns.require(campaignId)).status, 'the campaign still runs').to.equal('ACTIVE');

    // Every route that changes something, whatever it is, before its body is read or validated.
    for (const route of mountedApiRoutes(ctx).filter((entry) => entry.method !== 'get')) {
      const path = `/api${route.path.replace(/:action/g, 'archive').replace(/:[A-Za-z]+/g, String(campaignId))}`;
      const response = await callJson(app, route.method.toUpperCase(), path, viewer.authorization, {});
      expect(response.status, `${route.method.toUpperCase()} ${path}`).to.equal(403);
      expect(response.json.error, `${route.method.toUpperCase()} ${path}`).to.match(/^your role \(viewer\) may not [A-Za-z ,]+; that needs /);
    }
    expect((await ctx.campaigns.require(campaignId)).status).to.equal('ACTIVE');
    expect(await ctx.db('suppressions').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('lets a reviewer approve a message under review but not pause the campaign', async () => {
    const { campaignId } = await seedCampaign(ctx, { spec: { requireReview: true }, leads: makeLeads(2) });
    await ctx.ticks.runTick(campaignId, engine.clock.now());
    const [first, second] = (await ctx.reviews.list({ campaignId })).map((message) => message.id) as [number, number];
    const reviewer = await bearerFor(ctx, 'reviewer');

    const approved = await callJson(app, 'POST', `/api/review/${first}/approve`, reviewer.authorization, { note: 'fine' });
    expect(approved.status).to.equal(200);
    expect(approved.json).to.deep.include({ done: [first] });
    const rejected = await callJson(app, 'POST', `/api/review/${second}/reject`, reviewer.authorization, { reason: 'tone' });
    expect(rejected.status).to.equal(200);
    const decidedBy = (await ctx.db('messages').orderBy('id').pluck('review_decided_by')) as string[];
    expect(decidedBy).to.deep.equal(['reviewer@example.com', 'reviewer@example.com']);

    const pause = await callJson(app, 'POST', `/api/campaigns/${campaignId}/pause`, reviewer.authorization);
    expect(pause.status).to.equal(403);
    expect(pause.json.error).to.equal('your role (reviewer) may not approve, start, pause, resume or archive campaigns; that needs admin or operator');
    expect((await callJson(app, 'PUT', '/api/kill-switch', reviewer.authorization, { on: true })).status).to.equal(403);
    expect((await ctx.campaigns.require(campaignId)).status).to.equal('ACTIVE');
  });

  it('lets an ownerless token act as operator: it runs campaigns but cannot manage tokens or operators', async () => {
    const { campaignId } = await seedCampaign(ctx);
    const { token } = await createApiToken(ctx.db, 'deploys', undefined, ctx.clock);
    const authorization = `Bearer ${token}`;
    expect((await callJson(app, 'GET', '/api/whoami', authorization)).json).to.include({ role: 'operator', operator: null });
    expect((await callJson(app, 'POST', `/api/campaigns/${campaignId}/pause`, authorization)).status).to.equal(200);
    expect((await callJson(app, 'POST', '/api/suppressions', authorization, { target: 'seán.obrien@example.com' })).status).to.equal(201);

    const tokens = await callJson(app, 'GET', '/api/tokens', authorization);
    expect(tokens.status).to.equal(403);
    expect(tokens.json).to.deep.equal({ error: 'your role (operator) may not manage API tokens; that needs admin' });
    expect((await callJson(app, 'POST', '/api/operators', authorization, { email: 'eve@example.com', password: 'a long enough passphrase', role: 'admin' })).status).to.equal(403);
    expect(await ctx.db('operators').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('refuses the admin-only routes to an operator and a reviewer, and serves them to an admin', async () => {
    const admin = await bearerFor(ctx, 'admin');
    const operator = await bearerFor(ctx, 'operator');
    const reviewer = await bearerFor(ctx, 'reviewer');
    const adminOnly: Array<[string, string, unknown?]> = [
      ['GET', '/api/tokens'],
      ['POST', '/api/tokens', { name: 'sneaky', operator: 'admin@example.com', expires: 'never' }],
      ['DELETE', '/api/tokens/1'],
      ['GET', '/api/operators'],
      ['POST', '/api/operators', { email: 'mallory@example.com', password: 'a long enough passphrase', role: 'admin' }],
      ['POST', `/api/operators/${admin.operatorId}/disable`],
      ['POST', `/api/operators/${admin.operatorId}/enable`],
    ];
    for (const who of [operator, reviewer]) {
      for (const [method, path, body] of adminOnly) {
        const response = await callJson(app, method, path, who.authorization, body);
        expect(response.status, `${method} ${path}`).to.equal(403);
        expect(response.json.error).to.match(/^your role \((operator|reviewer)\) may not manage (API tokens|operators); that needs admin$/);
      }
    }
    expect(await ctx.db('api_tokens').whereNotNull('revoked_at').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    expect((await ctx.db('operators').where({ email: 'admin@example.com' }).first('disabled_at')) as { disabled_at: Date | null }).to.deep.equal({ disabled_at: null });

    const listed = await callJson(app, 'GET', '/api/operators', admin.authorization);
    expect(listed.status).to.equal(200);
    expect((listed.json.operators as Array<{ email: string; role: string }>).map((entry) => `${entry.email} ${entry.role}`)).to.deep.equal([
      'admin@example.com admin',
      'operator@example.com operator',
      'reviewer@example.com reviewer',
    ]);
    expect(JSON.stringify(listed.json)).not.to.include('scrypt');
  });

  it('lets an admin create, list and revoke tokens and add, disable and enable operators through the API', async () => {
    const admin = await bearerFor(ctx, 'admin');
    const added = await callJson(app, 'POST', '/api/operators', admin.authorization, { email: 'Aoife.OBrien@Example.com', password: 'a long enough passphrase', role: 'viewer' });
    expect(added.status).to.equal(201);
    const aoife = added.json.operator as { id: number; email: string; role: string };
    expect(aoife).to.include({ email: 'aoife.obrien@example.com', role: 'viewer' });
    expect((await callJson(app, 'POST', '/api/operators', admin.authorization, { email: 'x@example.com', password: 'a long enough passphrase', role: 'root' })).status).to.equal(400);

    const created = await callJson(app, 'POST', '/api/tokens', admin.authorization, { name: 'aoife dashboards', operator: 'aoife.obrien@example.com', expires: '30d' });
    expect(created.status).to.equal(201);
    expect(created.json).to.include({ name: 'aoife dashboards', role: 'viewer', expiresAt: new Date(engine.clock.now().getTime() + 30 * 86_400_000).toISOString() });
    const aoifeAuth = `Bearer ${created.json.token as string}`;
    expect((await callJson(app, 'GET', '/api/campaigns', aoifeAuth)).status).to.equal(200);

    const tokens = await callJson(app, 'GET', '/api/tokens', admin.authorization);
    expect(JSON.stringify(tokens.json)).not.to.include((created.json.token as string).slice(4));
    expect((tokens.json.tokens as Array<{ name: string; role: string; status: string; operator: string | null }>).map((t) => `${t.name}|${t.operator}|${t.role}|${t.status}`)).to.deep.equal([
      'admin laptop|admin@example.com|admin|live',
      'aoife dashboards|aoife.obrien@example.com|viewer|live',
    ]);

    const disabled = await callJson(app, 'POST', `/api/operators/${aoife.id}/disable`, admin.authorization);
    expect(disabled.json).to.deep.include({ changed: true });
    expect((await callJson(app, 'GET', '/api/campaigns', aoifeAuth)).status, 'a disabled owner’s token').to.equal(401);
    expect((await callJson(app, 'POST', `/api/operators/${aoife.id}/enable`, admin.authorization)).json).to.deep.include({ changed: true });
    expect((await callJson(app, 'GET', '/api/campaigns', aoifeAuth)).status).to.equal(200);

    const revoked = await callJson(app, 'DELETE', `/api/tokens/${created.json.id as number}`, admin.authorization);
    expect(revoked.status).to.equal(200);
    expect(revoked.json).to.deep.include({ revoked: true });
    expect((await callJson(app, 'GET', '/api/campaigns', aoifeAuth)).status).to.equal(401);
    expect((await callJson(app, 'DELETE', '/api/tokens/999', admin.authorization)).status).to.equal(404);
  });
});
