import { expect } from 'chai';
import { apiTokenOf } from '../../src/http/api-auth.js';
import { createApiToken, revokeApiToken } from '../../src/operators/api-token-service.js';
import { startApp, type RunningApp } from './http-harness.js';
import { resetDatabase, testDb } from '../setup/hooks.js';

describe('api authentication', () => {
  let app: RunningApp;

  before(async () => {
    app = await startApp({
      apiRoutes: (router) => {
        router.post('/notes', (req, res) => {
          res.status(201).json({ by: apiTokenOf(req).name, body: req.body as unknown });
        });
      },
    });
  });

  after(() => app.close());

  beforeEach(resetDatabase);

  const whoami = (authorization?: string) =>
    fetch(app.url('/api/whoami'), { headers: authorization === undefined ? {} : { authorization } });

  it('refuses /api/whoami without a token: 401 JSON with a Bearer challenge', async () => {
    const response = await whoami();
    expect(response.status).to.equal(401);
    expect(response.headers.get('www-authenticate')).to.equal('Bearer realm="drumbeat"');
    expect(await response.json()).to.have.property('error');
  });

  it('refuses a malformed, unknown or non-Bearer credential with 401 invalid_token', async () => {
    const { token } = await createApiToken(testDb(), 'ci');
    for (const authorization of ['Bearer nonsense', `Bearer dbt_${'A'.repeat(43)}`, `Bearer ${token}x`]) {
      const response = await whoami(authorization);
      expect(response.status, authorization).to.equal(401);
      expect(response.headers.get('www-authenticate')).to.equal('Bearer realm="drumbeat", error="invalid_token"');
    }
    const basic = await whoami(`Basic ${Buffer.from(`x:${token}`).toString('base64')}`);
    expect(basic.status).to.equal(401);
  });

  it('refuses a revoked token', async () => {
    const { id, token } = await createApiToken(testDb(), 'ci');
    expect((await whoami(`Bearer ${token}`)).status).to.equal(200);
    await revokeApiToken(testDb(), id);
    const response = await whoami(`Bearer ${token}`);
    expect(response.status).to.equal(401);
    expect(response.headers.get('www-authenticate')).to.include('invalid_token');
  });

  it('answers /api/whoami with the token’s name, role, owner and expiry for a good token', async () => {
    const { id, token, expiresAt } = await createApiToken(testDb(), 'ci deploys');
    const response = await whoami(`Bearer ${token}`);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ id, name: 'ci deploys', role: 'operator', operator: null, expiresAt: expiresAt?.toISOString() });
  });

  it('puts apiRoutes behind the token check, with no CSRF token needed', async () => {
    const { token } = await createApiToken(testDb(), 'ci');
    const post = (headers: Record<string, string>) =>
      fetch(app.url('/api/notes'), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"text":"hi"}' });
    expect((await post({})).status).to.equal(401);
    const response = await post({ authorization: `Bearer ${token}` });
    expect(response.status).to.equal(201);
    expect(await response.json()).to.deep.equal({ by: 'ci', body: { text: 'hi' } });
  });

  it('answers an unknown /api path with 401 before, and 404 after, authentication', async () => {
    const { token } = await createApiToken(testDb(), 'ci');
    expect((await fetch(app.url('/api/nothing-here'))).status).to.equal(401);
    const response = await fetch(app.url('/api/nothing-here'), { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).to.equal(404);
  });
});
