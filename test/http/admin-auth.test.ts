import { createHash } from 'node:crypto';
import { expect } from 'chai';
import sinon from 'sinon';
import { Queue } from 'bullmq';
import { addOperator } from '../../src/operators/operator-service.js';
import { cookieValue, setCookie, signIn, startApp, type RunningApp } from './http-harness.js';
import { resetDatabase, testConfig, testDb } from '../setup/hooks.js';
import { clockNow } from '../support/clock.js';

const email = 'ada@example.com';
const password = 'a long enough passphrase';
const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const queueName = 'admin-board';

describe('admin area', () => {
  let app: RunningApp;
  let queue: Queue;
  const clock = clockNow();
  const config = testConfig({ SESSION_TTL: '1h' });

  /** Every route mounted under /admin apart from the login routes, with a method each. */
  const protectedRoutes: Array<{ method: string; path: string }> = [
    { method: 'GET', path: '/admin/queues' },
    { method: 'GET', path: `/admin/queues/queue/${queueName}` },
    { method: 'GET', path: '/admin/queues/api/queues' },
    { method: 'GET', path: '/admin/queues/static/favicon-32x32.png' },
    { method: 'PUT', path: `/admin/queues/api/queues/${queueName}/retry/failed` },
    { method: 'PUT', path: `/admin/queues/api/queues/${queueName}/clean/completed` },
    { method: 'PUT', path: `/admin/queues/api/queues/${queueName}/pause` },
    { method: 'PUT', path: `/admin/queues/api/queues/${queueName}/obliterate` },
    { method: 'POST', path: '/admin/logout' },
    { method: 'GET', path: '/admin/not-a-page' },
  ];

  before(async () => {
    queue = new Queue(queueName, { connection: { url: config.REDIS_URL }, prefix: config.QUEUE_PREFIX });
    app = await startApp({ config, clock, boardQueues: [queue] });
  });

  after(async () => {
    await app.close();
    await queue.obliterate({ force: true });
    await queue.close();
  });

  beforeEach(async () => {
    await resetDatabase();
    clock.set(clock.anchor);
    await addOperator(testDb(), email, password);
    await queue.resume();
  });

  describe('sign-in', () => {
    it('serves a login form', async () => {
      const response = await fetch(app.url('/admin/login'), { headers: { accept: browserAccept } });
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.match(/^text\/html/);
      expect(response.headers.get('cache-control')).to.equal('no-store');
      const html = await response.text();
      expect(html).to.include('<form method="post" action="/admin/login">');
    });

    it('signs a browser in with a session cookie that is HttpOnly and SameSite=Strict, then redirects to the console at /admin', async () => {
      const response = await fetch(app.url('/admin/login'), {
        method: 'POST',
        headers: { accept: browserAccept },
        body: new URLSearchParams({ email, password }),
        redirect: 'manual',
      });
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.equal('/admin');
      const session = setCookie(response, 'drumbeat_session') ?? '';
      expect(session).to.match(/; HttpOnly/);
      expect(session).to.match(/; SameSite=Strict/);
      expect(session).to.match(/; Path=\/;/);
      expect(session).to.include(`; Expires=${clock.after(3_600_000).toUTCString()}`);
      expect(session, 'PUBLIC_URL is http').not.to.match(/; Secure/);
    });

    it('gives a JSON client the CSRF token and an XSRF-TOKEN cookie that scripts on /admin can read', async () => {
      const signedIn = await signIn(app, email, password);
      const body = (await signedIn.response.json()) as { ok: boolean; csrfToken: string; email: string };
      expect(body).to.include({ ok: true, email });
      expect(body.csrfToken).to.equal(signedIn.csrfToken);
      const xsrf = setCookie(signedIn.response, 'XSRF-TOKEN') ?? '';
      expect(xsrf).not.to.match(/HttpOnly/);
      expect(xsrf).to.match(/; Path=\/admin;/);
      expect(xsrf).to.match(/; SameSite=Strict/);
    });

    it('stores only the SHA-256 of the session id, with expires_at one SESSION_TTL after sign-in', async () => {
      const { sessionId, csrfToken } = await signIn(app, email, password);
      const rows = (await testDb()('operator_sessions').select()) as Array<{ id_hash: string; csrf_token: string; expires_at: Date }>;
      expect(rows).to.have.length(1);
      expect(rows[0]?.id_hash).to.equal(createHash('sha256').update(sessionId).digest('hex'));
      expect(rows[0]?.csrf_token).to.equal(csrfToken);
      expect(rows[0]?.expires_at.toISOString()).to.equal(clock.after(3_600_000).toISOString());
    });

    it('marks both cookies Secure when PUBLIC_URL is https', async () => {
      const secureApp = await startApp({ config: testConfig({ PUBLIC_URL: 'https://drumbeat.example.com' }) });
      try {
        const { response } = await signIn(secureApp, email, password);
        expect(setCookie(response, 'drumbeat_session')).to.match(/; Secure/);
        expect(setCookie(response, 'XSRF-TOKEN')).to.match(/; Secure/);
      } finally {
        await secureApp.close();
      }
    });

    it('refuses a wrong password with 401 and the form again, escaping what was typed', async () => {
      const response = await fetch(app.url('/admin/login'), {
        method: 'POST',
        headers: { accept: browserAccept },
        body: new URLSearchParams({ email: '"><script>alert(1)</script>', password: 'the wrong passphrase' }),
      });
      expect(response.status).to.equal(401);
      expect(setCookie(response, 'drumbeat_session')).to.equal(undefined);
      const html = await response.text();
      expect(html).to.include('Wrong email or password.');
      expect(html).to.include('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
      expect(html).not.to.include('<script>');
    });

    it('refuses a wrong password from a JSON client with 401 JSON', async () => {
      const response = await fetch(app.url('/admin/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: 'the wrong passphrase' }),
      });
      expect(response.status).to.equal(401);
      expect(await response.json()).to.deep.equal({ error: 'wrong email or password' });
    });

    it('refuses a sign-in without credentials with 400', async () => {
      const response = await fetch(app.url('/admin/login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(response.status).to.equal(400);
    });

    it('refuses a sign-in posted from another site (login CSRF)', async () => {
      const response = await fetch(app.url('/admin/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
        body: JSON.stringify({ email, password }),
      });
      expect(response.status).to.equal(403);
      expect(setCookie(response, 'drumbeat_session')).to.equal(undefined);
    });
  });

  describe('without a session', () => {
    it('redirects a browser to /admin/login from every protected admin route', async () => {
      for (const route of protectedRoutes) {
        const response = await fetch(app.url(route.path), { method: route.method, headers: { accept: browserAccept }, redirect: 'manual' });
        expect(response.status, `${route.method} ${route.path}`).to.equal(302);
        expect(response.headers.get('location'), `${route.method} ${route.path}`).to.equal('/admin/login');
      }
    });

    it('answers 401 JSON to any other client on every protected admin route', async () => {
      for (const route of protectedRoutes) {
        const response = await fetch(app.url(route.path), { method: route.method, headers: { accept: 'application/json, text/plain, */*' } });
        expect(response.status, `${route.method} ${route.path}`).to.equal(401);
        expect(await response.json(), `${route.method} ${route.path}`).to.have.property('error');
      }
      expect(await queue.isPaused(), 'the pause route did not run').to.equal(false);
    });

    it('refuses a forged, expired or disabled-operator session', async () => {
      const forged = await fetch(app.url('/admin/queues/api/queues'), { headers: { cookie: `drumbeat_session=${'A'.repeat(43)}` } });
      expect(forged.status).to.equal(401);
      expect(setCookie(forged, 'drumbeat_session'), 'a stale cookie is cleared').to.match(/Expires=Thu, 01 Jan 1970/);

      const { cookie } = await signIn(app, email, password);
      clock.advance(60 * 60 * 1000);
      const expired = await fetch(app.url('/admin/queues/api/queues'), { headers: { cookie } });
      expect(expired.status).to.equal(401);

      clock.set(clock.anchor);
      const live = await fetch(app.url('/admin/queues/api/queues'), { headers: { cookie } });
      expect(live.status).to.equal(200);
      await testDb()('operators').where({ email }).update({ disabled_at: new Date() });
      const disabled = await fetch(app.url('/admin/queues/api/queues'), { headers: { cookie } });
      expect(disabled.status).to.equal(401);
    });
  });

  describe('with a session', () => {
    it('serves the Bull Board page and its API with the queues', async () => {
      const { cookie } = await signIn(app, email, password);
      const page = await fetch(app.url('/admin/queues'), { headers: { cookie, accept: browserAccept } });
      expect(page.status).to.equal(200);
      expect(page.headers.get('x-powered-by')).to.equal(null);
      const html = await page.text();
      expect(html).to.include('<base href="/admin/queues/" />');
      const script = /<script defer src="(static\/js\/main\.[^"]+)"/.exec(html)?.[1];
      expect(script).to.be.a('string');
      const asset = await fetch(app.url(`/admin/queues/${script}`), { headers: { cookie } });
      expect(asset.status).to.equal(200);

      const api = await fetch(app.url('/admin/queues/api/queues'), { headers: { cookie } });
      expect(api.status).to.equal(200);
      const body = (await api.json()) as { queues: Array<{ name: string }> };
      expect(body.queues.map((entry) => entry.name)).to.deep.equal([queueName]);
    });

    it('refuses a state-changing admin request without a CSRF token', async () => {
      const { cookie } = await signIn(app, email, password);
      for (const route of protectedRoutes.filter((entry) => entry.method !== 'GET')) {
        const response = await fetch(app.url(route.path), { method: route.method, headers: { cookie } });
        expect(response.status, `${route.method} ${route.path}`).to.equal(403);
        expect(await response.json()).to.deep.equal({ error: 'missing or invalid CSRF token' });
      }
      expect(await queue.isPaused(), 'the pause route did not run').to.equal(false);
      const stillSignedIn = await fetch(app.url('/admin/queues/api/queues'), { headers: { cookie } });
      expect(stillSignedIn.status, 'logout did not run').to.equal(200);
    });

    it('refuses a wrong CSRF token, including another session’s', async () => {
      const { cookie } = await signIn(app, email, password);
      const other = await signIn(app, email, password);
      for (const token of ['wrong', other.csrfToken]) {
        const response = await fetch(app.url(`/admin/queues/api/queues/${queueName}/pause`), {
          method: 'PUT',
          headers: { cookie, 'x-csrf-token': token },
        });
        expect(response.status).to.equal(403);
      }
      expect(await queue.isPaused()).to.equal(false);
    });

    it('accepts the token as axios sends it: the XSRF-TOKEN cookie copied into X-XSRF-TOKEN', async () => {
      const { cookie, response } = await signIn(app, email, password);
      const fromCookie = cookieValue(response, 'XSRF-TOKEN') ?? '';
      const retry = await fetch(app.url(`/admin/queues/api/queues/${queueName}/retry/failed`), {
        method: 'PUT',
        headers: { cookie, 'x-xsrf-token': fromCookie, accept: 'application/json, text/plain, */*' },
      });
      expect(retry.status).to.equal(200);
      const pause = await fetch(app.url(`/admin/queues/api/queues/${queueName}/pause`), {
        method: 'PUT',
        headers: { cookie, 'x-xsrf-token': fromCookie },
      });
      expect(pause.status).to.equal(200);
      expect(await queue.isPaused()).to.equal(true);
    });

    it('accepts the token in x-csrf-token and in a _csrf form field', async () => {
      const { cookie, csrfToken } = await signIn(app, email, password);
      const clean = await fetch(app.url(`/admin/queues/api/queues/${queueName}/clean/completed`), {
        method: 'PUT',
        headers: { cookie, 'x-csrf-token': csrfToken },
      });
      expect(clean.status).to.equal(200);
      const logout = await fetch(app.url('/admin/logout'), {
        method: 'POST',
        headers: { cookie, accept: browserAccept },
        body: new URLSearchParams({ _csrf: csrfToken }),
        redirect: 'manual',
      });
      expect(logout.status).to.equal(303);
      expect(logout.headers.get('location')).to.equal('/admin/login');
    });

    it('signs out: the session is deleted and both cookies are cleared', async () => {
      const { cookie, csrfToken } = await signIn(app, email, password);
      const logout = await fetch(app.url('/admin/logout'), { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken } });
      expect(logout.status).to.equal(200);
      expect(await logout.json()).to.deep.equal({ ok: true });
      expect(setCookie(logout, 'drumbeat_session')).to.match(/Expires=Thu, 01 Jan 1970/);
      expect(setCookie(logout, 'XSRF-TOKEN')).to.match(/Expires=Thu, 01 Jan 1970/);
      expect(await testDb()('operator_sessions').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
      const after = await fetch(app.url('/admin/queues/api/queues'), { headers: { cookie } });
      expect(after.status).to.equal(401);
    });

    it('ends the previous session when the same browser signs in again', async () => {
      const first = await signIn(app, email, password);
      const second = await fetch(app.url('/admin/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: first.cookie },
        body: JSON.stringify({ email, password }),
      });
      expect(second.status).to.equal(200);
      const stale = await fetch(app.url('/admin/queues/api/queues'), { headers: { cookie: first.cookie } });
      expect(stale.status).to.equal(401);
    });

    it('hides a Bull Board failure behind a generic error', async () => {
      const { cookie } = await signIn(app, email, password);
      sinon.stub(queue, 'getJobCounts').rejects(new Error('redis://:hunter2@redis.internal refused'));
      const response = await fetch(app.url('/admin/queues/api/queues'), { headers: { cookie } });
      expect(response.status).to.equal(500);
      const text = await response.text();
      expect(text).to.include('ERRORS.INTERNAL_SERVER_ERROR');
      expect(text).not.to.include('hunter2');
    });
  });
});
