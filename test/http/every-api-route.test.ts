import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { apiRoutes } from '../../src/http/api-routes.js';
import { buildHttpApp } from '../../src/runtime/processes.js';
import type { AppContext } from '../../src/runtime/context.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { addOperator } from '../../src/operators/operator-service.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { engineContext, freshEngine, makeLeads, seedCampaign, specFor } from '../support/engine.js';
import { startApp, type RunningApp } from './http-harness.js';
import { mountedApiRoutes } from '../support/api-routes.js';

describe('admin API authentication', function () {
  this.timeout(20_000);
  let ctx: AppContext;
  let server: Server;
  let base: string;

  before(async () => {
    ctx = engineContext();
    const app = buildHttpApp(ctx);
    server = await new Promise((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
    await ctx.close();
  });

  it('refuses every mounted /api route without a bearer token, and with a wrong one', async () => {
    const routes = mountedApiRoutes(ctx);
    expect(routes.length, 'the recorder saw the API').to.be.greaterThan(10);
    for (const route of routes) {
      const path = `/api${route.path.replace(/:action/g, 'start').replace(/:[A-Za-z]+/g, '1')}`;
      for (const authorization of [undefined, 'Bearer dbt_not-a-real-token']) {
        const response = await fetch(`${base}${path}`, {
          method: route.method.toUpperCase(),
          headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
          ...(route.method === 'get' || route.method === 'delete' ? {} : { body: '{}' }),
        });
        expect(response.status, `${route.method.toUpperCase()} ${path} (${authorization ?? 'no token'})`).to.equal(401);
      }
    }
  });
});

/** An id no entity has. */
const missing = 987654;

/** One request that names an entity that does not exist. */
interface MissingCase {
  /** The mounted route it exercises, as `METHOD path`. */
  route: string;
  method: string;
  path: string;
  body?: unknown;
  form?: boolean;
}

/** Every /api route that names an entity (in its path, query or body), with a missing one. */
const missingCases: MissingCase[] = [
  { route: 'GET /campaigns/:id', method: 'GET', path: `/api/campaigns/${missing}` },
  { route: 'GET /campaigns/:id/report', method: 'GET', path: `/api/campaigns/${missing}/report` },
  { route: 'POST /campaigns/:id/reject', method: 'POST', path: `/api/campaigns/${missing}/reject`, body: { reason: 'off brand' } },
  ...['approve', 'start', 'pause', 'resume', 'archive'].map((action) => ({ route: 'POST /campaigns/:id/:action', method: 'POST', path: `/api/campaigns/${missing}/${action}`, body: {} })),
  { route: 'GET /campaigns/:id/preview', method: 'GET', path: `/api/campaigns/${missing}/preview?lead=sean@example.ie` },
  { route: 'PUT /campaigns/:id/sequence', method: 'PUT', path: `/api/campaigns/${missing}/sequence`, body: specFor({ name: 'Seán', slug: 'sean' }) },
  { route: 'POST /campaigns/:id/leads', method: 'POST', path: `/api/campaigns/${missing}/leads`, body: [{ email: 'sean@example.ie', firstName: 'Seán' }] },
  { route: 'POST /campaigns/:id/imports', method: 'POST', path: `/api/campaigns/${missing}/imports`, form: true },
  { route: 'GET /campaigns/:id/imports', method: 'GET', path: `/api/campaigns/${missing}/imports` },
  { route: 'GET /imports/:id/errors.csv', method: 'GET', path: `/api/imports/${missing}/errors.csv` },
  { route: 'GET /templates/:id', method: 'GET', path: `/api/templates/${missing}` },
  { route: 'PUT /templates/:id', method: 'PUT', path: `/api/templates/${missing}`, body: { body: 'Hi <%= it.lead.firstName %>' } },
  { route: 'POST /templates/:id/activate', method: 'POST', path: `/api/templates/${missing}/activate` },
  { route: 'POST /templates/:id/deactivate', method: 'POST', path: `/api/templates/${missing}/deactivate` },
  { route: 'POST /review/:id/approve', method: 'POST', path: `/api/review/${missing}/approve`, body: {} },
  { route: 'POST /review/:id/reject', method: 'POST', path: `/api/review/${missing}/reject`, body: { reason: 'tone' } },
  { route: 'PUT /review/:id', method: 'PUT', path: `/api/review/${missing}`, body: { body: 'Hello' } },
  { route: 'GET /templates', method: 'GET', path: `/api/templates?campaign=${missing}` },
  { route: 'POST /templates', method: 'POST', path: '/api/templates', body: { name: 'intro', channel: 'email', campaignId: missing, subject: 'Hi', body: 'Hi' } },
  { route: 'GET /review', method: 'GET', path: `/api/review?campaign=${missing}` },
  { route: 'GET /messages/dead', method: 'GET', path: `/api/messages/dead?campaign=${missing}` },
  { route: 'POST /messages/retry', method: 'POST', path: '/api/messages/retry', body: { campaignId: missing, all: true } },
  { route: 'POST /messages/retry', method: 'POST', path: '/api/messages/retry', body: { ids: [missing] } },
  { route: 'GET /suppressions', method: 'GET', path: `/api/suppressions?campaignId=${missing}` },
  { route: 'POST /suppressions', method: 'POST', path: '/api/suppressions', body: { target: 'sean@example.ie', campaignId: missing } },
  { route: 'DELETE /tokens/:id', method: 'DELETE', path: `/api/tokens/${missing}` },
  ...['disable', 'enable'].map((action) => ({ route: 'POST /operators/:id/:action', method: 'POST', path: `/api/operators/${missing}/${action}`, body: {} })),
];

/** Asserts the one error shape: `{ error: "<one sentence>" }`, plus `issues: [{ path, message }]` for field errors. */
function expectErrorShape(body: unknown, what: string): { error: string; issues?: Array<{ path: string; message: string }> } {
  expect(body, what).to.be.an('object');
  const shaped = body as { error: string; issues?: Array<{ path: string; message: string }> };
  expect(Object.keys(shaped).filter((key) => key !== 'issues'), what).to.deep.equal(['error']);
  expect(shaped.error, what).to.be.a('string').and.not.match(/\n/);
  for (const issue of shaped.issues ?? []) {
    expect(Object.keys(issue).sort(), what).to.deep.equal(['message', 'path']);
    expect(issue.path, what).to.be.a('string');
    expect(issue.message, what).to.be.a('string');
  }
  return shaped;
}

describe('admin API errors: one mapping, one shape', function () {
  this.timeout(60_000);
  const engine = freshEngine();
  let ctx: AppContext;
  let app: RunningApp;
  let authorization: string;

  beforeEach(async () => {
    ctx = engine.ctx;
    app = await startApp({ config: ctx.config, db: ctx.db, apiRoutes: (router) => apiRoutes(router, ctx) });
    // An admin's token: every route is open to it, so each answers for its entity, not the role.
    await addOperator(ctx.db, 'admin@example.com', 'a-long-enough-password', { role: 'admin' });
    authorization = `Bearer ${(await createApiToken(ctx.db, 'ops', 'admin@example.com')).token}`;
  });

  afterEach(() => app.close());

  async function call(method: string, path: string, body?: unknown, form = false): Promise<{ status: number; body: unknown }> {
    let payload: FormData | string | undefined;
    if (form) {
      payload = new FormData();
      payload.append('file', new Blob(['Email,First Name\nsean@example.ie,Seán\n'], { type: 'text/csv' }), 'leads.csv');
    } else if (body !== undefined) payload = JSON.stringify(body);
    const response = await fetch(app.url(path), {
      method,
      headers: { authorization, ...(form || body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { body: payload }),
    });
    return { status: response.status, body: await response.json() };
  }

  it('answers 404 in the error shape on every route that names a missing entity', async () => {
    const named = new Set(missingCases.map((entry) => entry.route));
    const withIds = mountedApiRoutes(ctx)
      .map((route) => `${route.method.toUpperCase()} ${route.path}`)
      .filter((route) => route.includes(':id'));
    expect(withIds.filter((route) => !named.has(route)), 'every route with an id has a case here').to.deep.equal([]);

    for (const entry of missingCases) {
      const what = `${entry.method} ${entry.path}`;
      const answer = await call(entry.method, entry.path, entry.body, entry.form);
      expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).to.equal(404);
      expect(expectErrorShape(answer.body, what).error, what).to.include(String(missing));
    }
    const unsuppress = await call('DELETE', '/api/suppressions', { target: 'nobody@example.com' });
    expect(unsuppress.status).to.equal(404);
    expect(expectErrorShape(unsuppress.body, 'DELETE /api/suppressions').error).to.equal('no suppression of "nobody@example.com" everywhere');
  });

  it('answers a state conflict with 409 in the error shape', async () => {
    const draft = await seedCampaign(ctx, { start: false, leads: makeLeads(1) });
    const start = await call('POST', `/api/campaigns/${draft.campaignId}/start`);
    expect(start.status).to.equal(409);
    expect(expectErrorShape(start.body, 'start a DRAFT strategy')).to.deep.equal({ error: `campaign ${draft.campaignId} has strategy DRAFT; approve it before starting` });

    const running = await seedCampaign(ctx, { leads: makeLeads(1, 'running') });
    const resume = await call('POST', `/api/campaigns/${running.campaignId}/resume`);
    expect(resume.status).to.equal(409);
    expect(expectErrorShape(resume.body, 'resume an ACTIVE campaign')).to.deep.equal({
      error: `campaign ${running.campaignId} is ACTIVE; it must be PAUSED to become ACTIVE`,
    });

    await ctx.ticks.runTick(running.campaignId, ctx.clock.now());
    await ctx.queues.get(sendEmailQueue).drain(true);
    const [queued] = (await ctx.db('messages').where({ campaign_id: running.campaignId }).pluck('id')) as [number];
    const retry = await call('POST', '/api/messages/retry', { ids: [queued] });
    expect(retry.status).to.equal(409);
    expect(expectErrorShape(retry.body, 'retry a QUEUED message')).to.deep.equal({ error: `no DEAD message could be retried: message ${queued} is QUEUED, not DEAD` });

    const review = await call('POST', `/api/review/${queued}/approve`, {});
    expect(review.status).to.equal(409);
    expect(expectErrorShape(review.body, 'approve a message not in review')).to.deep.equal({ error: `message ${queued}: message is QUEUED, not PENDING_REVIEW` });
  });

  it('answers bad input with 400 in the error shape, naming each field', async () => {
    const { campaignId } = await seedCampaign(ctx, { start: false, leads: [] });
    const cases: Array<{ method: string; path: string; body?: unknown; issues: string[] }> = [
      { method: 'GET', path: '/api/campaigns/abc', issues: ['id'] },
      { method: 'POST', path: `/api/campaigns/${campaignId}/reject`, body: {}, issues: ['reason'] },
      { method: 'PUT', path: '/api/kill-switch', body: { on: 'yes' }, issues: ['on'] },
      { method: 'POST', path: '/api/templates', body: { name: 'intro', channel: 'email', subject: 'Hi', body: 'Hi\n<%= it.lead.nick %>' }, issues: ['body'] },
      { method: 'PUT', path: `/api/campaigns/${campaignId}/sequence`, body: { ...specFor(), steps: [] }, issues: ['steps'] },
      { method: 'POST', path: '/api/messages/retry', body: { all: true }, issues: [''] },
      { method: 'GET', path: '/api/messages/dead?campaign=seven', issues: ['campaign'] },
    ];
    for (const entry of cases) {
      const what = `${entry.method} ${entry.path}`;
      const answer = await call(entry.method, entry.path, entry.body);
      expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).to.equal(400);
      const shaped = expectErrorShape(answer.body, what);
      expect((shaped.issues ?? []).map((issue) => issue.path), what).to.deep.equal(entry.issues);
    }
    const template = await call('POST', '/api/templates', { name: 'intro', channel: 'email', subject: 'Hi', body: 'Hi\n<%= it.lead.nick %>' });
    expect(template.body).to.deep.equal({
      error: 'body line 2: unknown variable it.lead.nick (lead fields: email, firstName, lastName, company, custom.<name>)',
      issues: [{ path: 'body', message: 'line 2: unknown variable it.lead.nick (lead fields: email, firstName, lastName, company, custom.<name>)' }],
    });
    const target = await call('POST', '/api/suppressions', { target: 'not a target' });
    expect(target.status).to.equal(400);
    expect(expectErrorShape(target.body, 'a bad suppression target')).to.deep.equal({
      error: '"not a target" is neither an email address, an @domain nor an identity hash (64 hex digits)',
    });
  });
});
