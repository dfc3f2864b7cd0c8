import { expect } from 'chai';
import { createLogger } from '../../src/log/logger.js';
import { createAppContext, type AppContext } from '../../src/runtime/context.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { resetDatabase, testConfig, testDb } from '../setup/hooks.js';
import { seedCampaign } from '../support/engine.js';
import { startApp, type RunningApp } from './http-harness.js';

describe('HTTP while Redis is down', function () {
  this.timeout(20_000);
  let ctx: AppContext;
  let app: RunningApp;
  let token: string;

  beforeEach(async () => {
    await resetDatabase();
    const config = testConfig({ REDIS_URL: 'redis://127.0.0.1:1' });
    ctx = createAppContext(config, createLogger(config), { redisRole: 'http', db: testDb() });
    app = await startApp({ config, apiRoutes: (router) => apiRoutes(router, ctx) });
    token = (await createApiToken(testDb(), 'ops')).token;
  });

  afterEach(async () => {
    await app.close();
    await ctx.close();
  });

  it('answers 503 at once to a request that enqueues, and changes nothing', async () => {
    const seeded = await seedCampaign(ctx, { start: false });
    await ctx.campaigns.approve(seeded.campaignId, null, 'test');
    const started = Date.now();
    const response = await fetch(app.url(`/api/campaigns/${seeded.campaignId}/start`), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).to.equal(503);
    expect(Date.now() - started, 'no hanging').to.be.below(2000);
    expect(response.headers.get('retry-after')).to.equal('5');
    expect((await ctx.campaigns.require(seeded.campaignId)).status).to.equal('DRAFT');
  });

  it('still turns the kill switch on: the database flag is the truth', async () => {
    const response = await fetch(app.url('/api/kill-switch'), {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ on: true }),
    });
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.include({ on: true, queuesUpdated: false });
  });
});
