import { expect } from 'chai';
import { z } from 'zod';
import { createLogger } from '../../src/log/logger.js';
import { startApp, type RunningApp } from './http-harness.js';
import { testConfig } from '../setup/hooks.js';

describe('http app', () => {
  describe('probes, limits and errors', () => {
    let app: RunningApp;
    let ready = true;
    let readinessThrows = false;
    const logLines: string[] = [];

    before(async () => {
      const config = testConfig({ BODY_LIMIT: '1kb', LOG_LEVEL: 'error' });
      app = await startApp({
        config,
        log: createLogger(config, { write: (line: string) => logLines.push(line) }),
        readiness: () => {
          if (readinessThrows) return Promise.reject(new Error('postgres://user:hunter2@db failed'));
          return Promise.resolve({ ok: ready, checks: [{ name: 'postgres', ok: ready, message: ready ? 'ok' : 'connection refused' }] });
        },
        publicRoutes: (router) => {
          router.post('/echo', (req, res) => {
            res.json({ received: req.body as unknown });
          });
          router.get('/explode', () => {
            throw new Error('password=hunter2 leaked in a message');
          });
          router.post('/validated', (req, res) => {
            const body = z.object({ count: z.number().int() }).parse(req.body);
            res.json(body);
          });
        },
      });
    });

    after(() => app.close());

    beforeEach(() => {
      ready = true;
      readinessThrows = false;
      logLines.length = 0;
    });

    it('answers /healthz with 200 {ok:true}', async () => {
      const response = await fetch(app.url('/healthz'));
      expect(response.status).to.equal(200);
      expect(await response.json()).to.deep.equal({ ok: true });
    });

    it('answers /readyz with 200 and the checks when every dependency is ready', async () => {
      const response = await fetch(app.url('/readyz'));
      expect(response.status).to.equal(200);
      expect(await response.json()).to.deep.equal({ ok: true, checks: [{ name: 'postgres', ok: true, message: 'ok' }] });
    });

    it('answers /readyz with 503 and the checks when a dependency is not ready', async () => {
      ready = false;
      const response = await fetch(app.url('/readyz'));
      expect(response.status).to.equal(503);
      expect(await response.json()).to.deep.equal({ ok: false, checks: [{ name: 'postgres', ok: false, message: 'connection refused' }] });
    });

    it('answers /readyz with 503 when the readiness function throws, without its message', async () => {
      readinessThrows = true;
      const response = await fetch(app.url('/readyz'));
      expect(response.status).to.equal(503);
      const text = await response.text();
      expect(text).not.to.include('hunter2');
      expect(JSON.parse(text)).to.have.property('ok', false);
    });

    it('mounts public routes without authentication and parses JSON and form bodies', async () => {
      const json = await fetch(app.url('/echo'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      expect(await json.json()).to.deep.equal({ received: { a: 1 } });
      const form = await fetch(app.url('/echo'), { method: 'POST', body: new URLSearchParams({ b: '2' }) });
      expect(await form.json()).to.deep.equal({ received: { b: '2' } });
    });

    it('refuses a JSON or form body larger than BODY_LIMIT with 413 JSON', async () => {
      const big = JSON.stringify({ padding: 'x'.repeat(2048) });
      const json = await fetch(app.url('/echo'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
      expect(json.status).to.equal(413);
      expect(await json.json()).to.deep.equal({ error: 'request body is larger than the limit of 1kb' });
      const form = await fetch(app.url('/echo'), { method: 'POST', body: new URLSearchParams({ padding: 'x'.repeat(2048) }) });
      expect(form.status).to.equal(413);
    });

    it('answers malformed JSON with 400 JSON that does not quote the body', async () => {
      const response = await fetch(app.url('/echo'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"password": "hunter2"',
      });
      expect(response.status).to.equal(400);
      expect(response.headers.get('content-type')).to.match(/^application\/json/);
      const text = await response.text();
      expect(JSON.parse(text)).to.deep.equal({ error: 'request body is not valid JSON' });
      expect(text).not.to.include('hunter2');
    });

    it('answers a zod validation failure with 400 and the failing fields', async () => {
      const response = await fetch(app.url('/validated'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ count: 'many' }),
      });
      expect(response.status).to.equal(400);
      const body = (await response.json()) as { error: string; issues: Array<{ path: string; message: string }> };
      expect(body.error, 'one sentence naming the field').to.equal(`invalid request: count: ${body.issues[0]?.message}`);
      expect(body.issues.map((issue) => issue.path)).to.deep.equal(['count']);
    });

    it('turns an unexpected error into a generic 500, logging it but never sending its message or stack', async () => {
      const response = await fetch(app.url('/explode'));
      expect(response.status).to.equal(500);
      const text = await response.text();
      expect(JSON.parse(text)).to.deep.equal({ error: 'internal server error' });
      expect(text).not.to.include('hunter2');
      expect(text).not.to.include('.ts:');
      expect(logLines.join('\n')).to.include('request failed').and.include('password=hunter2 leaked');
    });

    it('answers an unknown path with a JSON 404', async () => {
      const response = await fetch(app.url('/no-such-thing'));
      expect(response.status).to.equal(404);
      expect(await response.json()).to.deep.equal({ error: 'not found' });
    });

    it('sends security headers with a CSP that Bull Board can live with, and no X-Powered-By', async () => {
      const response = await fetch(app.url('/healthz'));
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).to.include("default-src 'self'");
      expect(csp).to.include("script-src 'self'");
      expect(csp).to.include("style-src 'self' 'unsafe-inline' https://fonts.googleapis.com");
      expect(csp).to.include("frame-ancestors 'none'");
      expect(csp, 'plain-http PUBLIC_URL').not.to.include('upgrade-insecure-requests');
      expect(response.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(response.headers.get('strict-transport-security')).to.equal(null);
      expect(response.headers.get('x-powered-by')).to.equal(null);
    });
  });

  it('adds HSTS and upgrade-insecure-requests when PUBLIC_URL is https', async () => {
    const app = await startApp({ config: testConfig({ PUBLIC_URL: 'https://drumbeat.example.com' }) });
    try {
      const response = await fetch(app.url('/healthz'));
      expect(response.headers.get('content-security-policy')).to.include('upgrade-insecure-requests');
      expect(response.headers.get('strict-transport-security')).to.match(/max-age=\d+/);
    } finally {
      await app.close();
    }
  });
});
