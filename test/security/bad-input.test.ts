import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { buildHttpApp } from '../../src/runtime/processes.js';
import { importLeadsCsv } from '../../src/leads/lead-import.js';
import { parseCampaignSpec, CampaignSpecError } from '../../src/campaigns/campaign-spec.js';
import { freshEngine, runDrumbeat, seedCampaign, specFor } from '../support/engine.js';
import { mountedApiRoutes } from '../support/api-routes.js';
import { webhookSecret } from '../webhooks/webhook-support.js';
import { bearerFor } from './security-support.js';
import { startApp } from '../http/http-harness.js';
import { route } from '../../src/http/route.js';
import { badIds, badTexts, bodiesFor, percentEncode, unboundedDelays } from './corpus.js';

describe('bad input at every edge: a clear 4xx, never a 5xx', function () {
  this.timeout(120_000);
  const engine = freshEngine();
  let server: Server;
  let base: string;
  let requests = 0;
  const fiveHundreds: string[] = [];

  beforeEach(async () => {
    requests = 0;
    fiveHundreds.length = 0;
    const ctx = engine.ctx;
    server = await new Promise((resolve) => {
      const app = buildHttpApp({ ...ctx, config: { ...ctx.config, WEBHOOK_SECRET: webhookSecret } });
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
  });

  async function send(method: string, path: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<number> {
    requests += 1;
    const response = await fetch(`${base}${path}`, { method, headers: options.headers, ...(options.body === undefined ? {} : { body: options.body }) });
    const text = await response.text();
    if (response.status >= 500) fiveHundreds.push(`${method} ${path} → ${response.status} ${text.slice(0, 120)}`);
    else if (response.status >= 400 && response.headers.get('content-type')?.includes('application/json')) {
      expect((JSON.parse(text) as { error?: unknown }).error, `${method} ${path}: one sentence`).to.be.a('string');
    }
    return response.status;
  }

  it('every /api route, with bad ids, bad text in every field, bad queries, deep and oversized bodies', async () => {
    const ctx = engine.ctx;
    const { campaignId } = await seedCampaign(ctx, { start: false });
    const { authorization } = await bearerFor(ctx, 'admin');
    const json = { authorization, 'content-type': 'application/json' };
    const routes = mountedApiRoutes(ctx);
    expect(routes.length).to.be.greaterThan(25);
    for (const route of routes) {
      const method = route.method.toUpperCase();
      const withId = (id: string) => `/api${route.path.replace(/:action/g, 'start').replace(/:[A-Za-z]+/g, id)}`;
      if (route.path.includes(':')) {
        for (const id of badIds) {
          const status = await send(method, withId(id), { headers: json, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }) });
          expect(status, `${method} ${withId(id)}`).to.be.within(400, 499);
        }
      }
      const path = withId(String(campaignId));
      for (const text of badTexts) {
        const query = `?campaign=${percentEncode(text)}&lead=${percentEncode(text)}&step=${percentEncode(text)}`;
        // A route that reads none of these parameters may answer 200; none may answer 5xx.
        expect(await send(method, `${path}${query}`, { headers: json })).to.be.below(500);
        if (method === 'GET' || method === 'DELETE') continue;
        for (const body of bodiesFor(text)) {
          const status = await send(method, path, { headers: json, body: JSON.stringify(body) });
          expect(status, `${method} ${path} ${JSON.stringify(body).slice(0, 60)}`).to.be.within(400, 499);
        }
      }
      if (method !== 'GET' && method !== 'DELETE') {
        const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
        expect(await send(method, path, { headers: json, body: deep })).to.equal(400);
        expect(await send(method, path, { headers: json, body: JSON.stringify({ body: 'x'.repeat(2 * 1024 * 1024) }) })).to.equal(413);
        expect(await send(method, path, { headers: json, body: '{"name":' })).to.equal(400);
      }
    }
    expect(fiveHundreds, `${fiveHundreds.length} of ${requests} requests answered 5xx`).to.deep.equal([]);
  });

  it('public routes: forms and their slug, unsubscribe tokens, sign-in, webhooks, the board', async () => {
    const ctx = engine.ctx;
    await seedCampaign(ctx, { spec: { slug: 'spring' } });
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const json = { 'content-type': 'application/json', accept: 'application/json' };
    for (const text of badTexts) {
      const encoded = percentEncode(text);
      const checks: Array<[string, string, { headers?: Record<string, string>; body?: string }]> = [
        ['POST', `/forms/${encoded}`, { headers: form, body: 'email=a%40example.com' }],
        ['POST', '/forms/spring', { headers: form, body: `email=${encoded}&firstName=${encoded}&utm_source=${encoded}` }],
        ['POST', '/forms/spring', { headers: json, body: JSON.stringify({ email: 'a@example.com', firstName: text, [text]: text }) }],
        ['GET', `/u/${encoded}`, {}],
        ['POST', `/u/${encoded}`, { headers: form, body: 'List-Unsubscribe=One-Click' }],
        ['POST', '/admin/login', { headers: json, body: JSON.stringify({ email: text, password: text }) }],
        ['POST', '/admin/login', { headers: form, body: `email=${encoded}&password=${encoded}` }],
        ['GET', `/admin/queues/api/queues/${encoded}`, {}],
        ['POST', '/webhooks/events', { headers: { 'content-type': 'application/json', 'drumbeat-signature': text.replace(/[^\x20-\x7e]/g, '') }, body: JSON.stringify({ id: text }) }],
        ['GET', `/${encoded}?q=${encoded}`, {}],
      ];
      for (const [method, path, options] of checks) {
        const status = await send(method, path, options);
        expect(status, `${method} ${path}`).to.be.within(400, 499);
      }
    }
    for (const path of ['/u/%E0%A4%A', '/forms/%', `/u/${'a'.repeat(100_000)}`]) expect(await send('GET', path)).to.be.within(400, 499);
    expect(fiveHundreds, `${fiveHundreds.length} of ${requests} requests answered 5xx`).to.deep.equal([]);
  });

  it('a value Postgres refuses as data (NUL, out-of-range) that slipped past validation answers 400, not 500', async () => {
    const ctx = engine.ctx;
    const { authorization } = await bearerFor(ctx, 'viewer');
    const app = await startApp({
      config: ctx.config,
      db: ctx.db,
      apiRoutes: (router) => {
        router.get(
          '/probe/:kind',
          route(async (req, res) => {
            if (req.params.kind === 'nul') await ctx.db.raw('SELECT ?::text AS value', ['a\u0000b']);
            else await ctx.db.raw('SELECT ?::int AS value', ['99999999999']);
            res.json({ ok: true });
          }),
        );
      },
    });
    try {
      for (const kind of ['nul', 'range']) {
        const response = await fetch(app.url(`/api/probe/${kind}`), { headers: { authorization } });
        expect(response.status, kind).to.equal(400);
        expect(((await response.json()) as { error: string }).error).to.match(/cannot be stored/);
      }
    } finally {
      await app.close();
    }
  });

  it('a CSV row with a NUL character is reported with its line, bytes that are not UTF-8 land as U+FFFD, the other rows land', async () => {
    const ctx = engine.ctx;
    const { campaignId } = await seedCampaign(ctx, { leads: [], start: false });
    const dir = await mkdtemp(join(tmpdir(), 'drumbeat-bad-csv-'));
    try {
      const path = join(dir, 'leads.csv');
      // Line 4 holds a lone surrogate as a file can: its three UTF-8-shaped bytes, not UTF-8.
      await writeFile(
        path,
        Buffer.concat([
          Buffer.from('Email,First Name,Company\nada@example.com,Ada,Acme\nnul@example.com,Nu\u0000l,Acme\nsur@example.com,Sur,Ac'),
          Buffer.from([0xed, 0xa0, 0x80]),
          Buffer.from('me\ngrace@example.com,Grace,Navy\n'),
        ]),
      );
      const report = await importLeadsCsv(ctx, { campaignId, path, fileName: 'leads.csv', createdBy: 'test' });
      if (report.outcome !== 'imported') throw new Error('expected an import');
      expect(report.imported).to.equal(3);
      expect(report.errors.map((error) => [error.line, error.reason])).to.deep.equal([[3, 'first_name: contains a NUL character']]);
      expect(((await ctx.db('leads').orderBy('email').pluck('email')) as string[]).sort()).to.deep.equal(['ada@example.com', 'grace@example.com', 'sur@example.com']);
      expect(await ctx.db('leads').where({ email: 'sur@example.com' }).first('company')).to.deep.equal({ company: 'Ac\uFFFD\uFFFD\uFFFDme' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a step delay that is not finite, or longer than a year, is a field error (API and CLI), never stored', async () => {
    const ctx = engine.ctx;
    for (const delay of unboundedDelays) {
      expect(() => parseCampaignSpec(specFor({ steps: [{ channel: 'email', subject: 'Hi', body: 'Hi', delay }] })), delay).to.throw(CampaignSpecError, 'steps.0.delay');
    }
    const dir = await mkdtemp(join(tmpdir(), 'drumbeat-bad-spec-'));
    try {
      const file = join(dir, 'spec.json');
      await writeFile(file, JSON.stringify(specFor({ steps: [{ channel: 'email', subject: 'Hi', body: 'Hi', delay: unboundedDelays[0] }] })));
      const created = await runDrumbeat(['campaign', 'create', file]);
      expect(created.code).to.equal(1);
      expect(created.stderr).to.match(/steps\.0\.delay/);
      expect(await ctx.db('campaigns').count('* as count')).to.deep.equal([{ count: 0 }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
