import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { publicFeedbackRoutes } from '../../src/http/webhooks/public-feedback-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { suppress } from '../../src/suppression/suppression-service.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { resetDatabase, resetQueueStore, testRun } from '../setup/hooks.js';
import { engineContext, eventually, seedCampaign } from '../support/engine.js';
import { startApp, type RunningApp } from '../http/http-harness.js';
import { clockNow } from '../support/clock.js';

const uploadDir = join(tmpdir(), `drumbeat-test-uploads-${testRun.id}`);

describe('lead intake: JSON API, CSV upload job and form capture', function () {
  this.timeout(30_000);
  let ctx: AppContext;
  let app: RunningApp;
  let workers: RunningWorkers | undefined;
  let auth: { authorization: string };
  let campaignId: number;
  let slug: string;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    ctx = engineContext({
      clock: clockNow(),
      env: { IMPORT_MAX_BYTES: '4kb', IMPORT_UPLOAD_DIR: uploadDir, FORM_RATE_PER_MINUTE: '3', FORM_THANK_YOU_URL: 'https://example.com/thanks' },
    });
    app = await startApp({
      config: ctx.config,
      db: ctx.db,
      clock: ctx.clock,
      log: ctx.log,
      apiRoutes: (router) => apiRoutes(router, ctx),
      publicRoutes: (router) => publicFeedbackRoutes(router, ctx),
    });
    auth = { authorization: `Bearer ${(await createApiToken(ctx.db, 'intake')).token}` };
    slug = `landing-${Math.random().toString(36).slice(2, 8)}`;
    ({ campaignId } = await seedCampaign(ctx, { leads: [], spec: { slug } }));
  });

  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await app.close();
    await ctx.close();
  });

  it('POST /api/campaigns/:id/leads validates each item, lands the good ones and reports the rest by index', async () => {
    await suppress(ctx.db, '@blocked.example');
    const response = await fetch(app.url(`/api/campaigns/${campaignId}/leads`), {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify([
        { email: ' Ann@Example.com ', firstName: 'Ann', utmSource: 'partner', consent: 'GRANTED' },
        { email: 'ann@example.com', company: 'Acme' },
        { email: 'nope' },
        { email: 'x@blocked.example' },
        { email: 'bob@example.com', unexpected: true },
        { email: 'eve@example.com', firstName: 'Eve\r\nBcc: a@b.example' },
      ]),
    });
    expect(response.status).to.equal(200);
    const report = (await response.json()) as { imported: number; duplicates: number; invalid: number; suppressed: number; errors: Array<{ index: number }> };
    expect(report).to.include({ imported: 1, duplicates: 1, invalid: 3, suppressed: 1 });
    expect(report.errors.map((error) => error.index)).to.deep.equal([2, 4, 5]);
    const ann = (await ctx.db('leads').where({ email: 'ann@example.com' }).first()) as Record<string, unknown>;
    expect(ann).to.include({ first_name: 'Ann', company: 'Acme', utm_source: 'partner', consent: 'GRANTED', source: 'api' });
    const enrolled = await ctx.db('campaign_leads').where({ campaign_id: campaignId }).count('* as n');
    expect(enrolled).to.deep.equal([{ n: 1 }]);
  });

  it('POST /api/campaigns/:id/imports runs the uploaded CSV as a job with progress, then removes the file; over the cap answers 413', async () => {
    workers = await startWorkers(ctx, undefined, { schedule: false });
    const csv = 'Email,First Name,Plan\r\na@x.example,A,pro\r\nbad,B,free\r\nc@x.example,C,free\r\n';
    const form = new FormData();
    form.set('utmSource', 'upload');
    form.set('file', new Blob([csv], { type: 'text/csv' }), 'crm.csv');
    const response = await fetch(app.url(`/api/campaigns/${campaignId}/imports`), { method: 'POST', headers: auth, body: form });
    expect(response.status).to.equal(202);
    const { jobId } = (await response.json()) as { jobId: string };
    const batch = await eventually(
      async () => (await ctx.db('import_batches').where({ status: 'DONE' }).first()) as Record<string, unknown> | undefined,
      'the import job to finish',
    );
    expect(batch).to.include({ file_name: 'crm.csv', total: 3, imported: 2, invalid: 1, created_by: 'token:intake' });
    const job = await ctx.queues.get((await import('../../queues/import-leads.js')).importLeadsQueue).getJob(jobId);
    expect(job?.progress).to.include({ total: 3, imported: 2 });
    expect((await ctx.db('leads').where({ email: 'a@x.example' }).first()) as Record<string, unknown>).to.include({ utm_source: 'upload' });
    expect(readdirSync(uploadDir), 'the upload is deleted').to.deep.equal([]);

    const errors = await fetch(app.url(`/api/imports/${batch.id as number}/errors.csv`), { headers: auth });
    expect(await errors.text()).to.equal('line,reason\r\n3,email: not a valid email address\r\n');

    const big = new FormData();
    big.set('file', new Blob(['Email\r\n', 'x'.repeat(5000)]), 'big.csv');
    const tooBig = await fetch(app.url(`/api/campaigns/${campaignId}/imports`), { method: 'POST', headers: auth, body: big });
    expect(tooBig.status).to.equal(413);
    expect(readdirSync(uploadDir)).to.deep.equal([]);
  });

  describe('POST /forms/:campaignSlug', () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(app.url(`/forms/${slug}`), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
        body,
      });

    it('captures consent and attribution, enrolls into the ACTIVE campaign, and updates rather than duplicates on a resubmission', async () => {
      const first = await post('email=Form%40Example.com&first_name=Fay&consent=on&utm_source=ads&utm_campaign=launch', { referer: 'https://landing.example/page' });
      expect(first.status).to.equal(200);
      expect(await first.json()).to.deep.equal({ ok: true });
      const again = await post('email=form%40example.com&company=Fay+Ltd', { accept: 'text/html' });
      expect(again.status, 'a browser is sent to the thank-you page').to.equal(303);
      expect(again.headers.get('location')).to.equal('https://example.com/thanks');
      const leads = (await ctx.db('leads').select('*')) as Array<Record<string, unknown>>;
      expect(leads).to.have.length(1);
      expect(leads[0]).to.include({
        email: 'form@example.com',
        first_name: 'Fay',
        company: 'Fay Ltd',
        consent: 'GRANTED',
        source: 'form',
        source_ref: slug,
        utm_source: 'ads',
        utm_campaign: 'launch',
        referrer: 'https://landing.example/page',
      });
      expect(await ctx.db('campaign_leads').where({ campaign_id: campaignId }).count('* as n')).to.deep.equal([{ n: 1 }]);
    });

    it('drops a honeypot submission silently, refuses a bad address with 400 and limits each IP per minute with 429', async () => {
      expect((await post('email=bot%40spam.example&website=http%3A%2F%2Fspam')).status).to.equal(200);
      expect((await post('email=not-an-email')).status).to.equal(400);
      expect((await post('email=ok%40example.com')).status).to.equal(200);
      const limited = await post('email=late%40example.com');
      expect(limited.status, 'the fourth submission in a minute').to.equal(429);
      const emails = ((await ctx.db('leads').select('email')) as Array<{ email: string }>).map((row) => row.email);
      expect(emails).to.deep.equal(['ok@example.com']);
    });

    it('stores but does not enroll a lead while the campaign is not ACTIVE, and answers 404 for an unknown form', async () => {
      const draft = await seedCampaign(ctx, { leads: [], start: false, spec: { slug: `${slug}-draft` } });
      const response = await fetch(app.url(`/forms/${slug}-draft`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'd@example.com', firstName: 'Dee' }),
      });
      expect(response.status).to.equal(200);
      expect(await ctx.db('leads').where({ email: 'd@example.com' }).first('first_name')).to.deep.equal({ first_name: 'Dee' });
      expect(await ctx.db('campaign_leads').where({ campaign_id: draft.campaignId }).count('* as n')).to.deep.equal([{ n: 0 }]);
      expect((await post('email=x%40example.com', {})).status).to.equal(200);
      const unknown = await fetch(app.url('/forms/no-such-form'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"a@b.example"}' });
      expect(unknown.status).to.equal(404);
    });
  });
});
