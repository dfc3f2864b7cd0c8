import { expect } from 'chai';
import { addOperator } from '../../src/operators/operator-service.js';
import { makeLeads, seedCampaign } from '../support/engine.js';
import { PASSPHRASE, startConsole, type RunningConsole } from '../browser/console-harness.js';
import { signIn, type SignedIn } from './http-harness.js';

const browserAccept = 'text/html,application/xhtml+xml';

describe('the console pages over HTTP', function () {
  this.timeout(30_000);
  let app: RunningConsole;
  let operator: SignedIn;

  beforeEach(async () => {
    app = await startConsole();
    await addOperator(app.ctx.db, 'ops@example.com', PASSPHRASE, { role: 'operator' });
    operator = await signIn(app, 'ops@example.com', PASSPHRASE);
  });
  afterEach(() => app.close());

  function get(path: string, cookie = operator.cookie) {
    return fetch(app.url(path), { headers: { cookie, accept: browserAccept }, redirect: 'manual' });
  }

  function post(path: string, form: Record<string, string>, withCsrf = true) {
    return fetch(app.url(path), {
      method: 'POST',
      headers: { cookie: operator.cookie, accept: browserAccept },
      body: new URLSearchParams(withCsrf ? { _csrf: operator.csrfToken, ...form } : form),
      redirect: 'manual',
    });
  }

  it('sends a browser without a session to the sign-in page', async () => {
    const response = await get('/admin/campaigns', '');
    expect(response.status).to.equal(302);
    expect(response.headers.get('location')).to.equal('/admin/login');
  });

  it('answers bad ids, unknown entities and unknown pages with a 4xx page, never a 5xx', async () => {
    const { campaignId } = await seedCampaign(app.ctx, { leads: makeLeads(2) });
    const cases: Array<[string, number, string]> = [
      ['/admin/campaigns/abc', 400, 'a positive whole number'],
      ['/admin/campaigns/99999', 404, 'campaign 99999 does not exist'],
      [`/admin/campaigns/${campaignId}?after=-1`, 400, 'after'],
      [`/admin/campaigns/${campaignId}?q=${encodeURIComponent('%_\\ 100%')}`, 200, 'No leads match'],
      ['/admin/review?campaign=0', 400, 'campaign'],
      ['/admin/review?campaign=424242', 404, 'campaign 424242 does not exist'],
      ['/admin/review/77/edit', 404, 'message 77 is not waiting for review'],
      ['/admin/messages?campaign=1e3', 400, 'campaign'],
      ['/admin/no-such-page', 404, 'There is no such page.'],
    ];
    for (const [path, status, text] of cases) {
      const response = await get(path);
      expect(response.status, path).to.equal(status);
      expect(response.headers.get('content-type'), path).to.match(/^text\/html/);
      expect(await response.text(), path).to.include(text);
    }
  });

  it('answers bad form posts with a 4xx page, a missing CSRF token with 403, and changes nothing', async () => {
    const { campaignId } = await seedCampaign(app.ctx, { leads: makeLeads(2) });
    const cases: Array<[string, Record<string, string>, number]> = [
      [`/admin/campaigns/${campaignId}/explode`, {}, 400],
      ['/admin/campaigns/99999/pause', {}, 404],
      ['/admin/kill-switch', { on: 'maybe' }, 400],
      ['/admin/review/1/reject', { reason: '   ' }, 400],
      ['/admin/review/approve', { ids: 'x' }, 400],
      ['/admin/messages/1/resolve', { resolution: 'shrug' }, 400],
      ['/admin/messages/retry-campaign', { campaignId: '-4' }, 400],
      ['/admin/campaigns', { spec: 'name: [unclosed' }, 400],
    ];
    for (const [path, form, status] of cases) {
      const response = await post(path, form);
      expect(response.status, path).to.equal(status);
      expect(response.headers.get('content-type'), path).to.match(/^text\/html/);
    }
    expect((await post(`/admin/campaigns/${campaignId}/pause`, {}, false)).status).to.equal(403);
    expect((await app.ctx.campaigns.require(campaignId)).status).to.equal('ACTIVE');
    expect(await app.ctx.db('audit_log').whereNot({ action: 'sign-in' }).count<Array<{ count: number }>>('* as count')).to.deep.equal([{ count: 0 }]);
  });

  it('prints lead and campaign text escaped, never as markup', async () => {
    const leads = makeLeads(1).map((lead) => ({ ...lead, firstName: '<script>alert(1)</script>', company: 'AT&T <Labs>' }));
    const { campaignId } = await seedCampaign(app.ctx, { leads, spec: { name: '<img src=x onerror=alert(1)>' } });
    const html = await (await get(`/admin/campaigns/${campaignId}`)).text();
    expect(html).to.not.include('<script>alert(1)</script>');
    expect(html).to.not.include('<img src=x');
    expect(html).to.include('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).to.include('AT&amp;T &lt;Labs&gt;');
  });
});
