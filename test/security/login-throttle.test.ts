import { Writable } from 'node:stream';
import { expect } from 'chai';
import { addOperator } from '../../src/operators/operator-service.js';
import { createLogger } from '../../src/log/logger.js';
import { cookieValue, startApp, type RunningApp } from '../http/http-harness.js';
import { resetDatabase, testConfig, testDb } from '../setup/hooks.js';
import { clockNow } from '../support/clock.js';
import { operatorPassword } from './security-support.js';

const email = "sean.o'brien@example.com";
const wrongPassword = 'hunter2-is-not-it';

describe('security: sign-in throttling and origin check', function () {
  this.timeout(60_000);
  const clock = clockNow();
  const config = testConfig({ LOG_LEVEL: 'info', PUBLIC_URL: 'https://drumbeat.example.com' });
  const logLines: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  let app: RunningApp;
  let other: RunningApp;

  before(async () => {
    const log = createLogger(config, logStream);
    app = await startApp({ config, clock, log });
    // A second api process on the same database, as PM2's cluster mode runs them.
    other = await startApp({ config, clock, log });
  });

  after(async () => {
    await app.close();
    await other.close();
  });

  beforeEach(async () => {
    await resetDatabase();
    clock.reanchor(clockNow());
    logLines.length = 0;
    await addOperator(testDb(), email, operatorPassword);
  });

  const login = (on: RunningApp, password: string, headers: Record<string, string> = {}, who = email) =>
    fetch(on.url('/admin/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ email: who, password }),
    });

  it('answers 429 with Retry-After after 5 wrong passwords, even to the right one, until the back-off passes', async () => {
    for (let attempt = 1; attempt <= 5; attempt += 1) expect((await login(app, wrongPassword)).status, `attempt ${attempt}`).to.equal(401);
    const throttled = await login(app, operatorPassword);
    expect(throttled.status).to.equal(429);
    expect(throttled.headers.get('retry-after')).to.equal('60');
    expect(await throttled.json()).to.deep.equal({ error: 'too many sign-in attempts; try again in 60 seconds' });
    expect(cookieValue(throttled, 'drumbeat_session')).to.equal(undefined);

    clock.advance(30_000);
    const stillThrottled = await login(app, operatorPassword);
    expect(stillThrottled.status).to.equal(429);
    expect(stillThrottled.headers.get('retry-after')).to.equal('30');

    clock.advance(30_000);
    const signedIn = await login(app, operatorPassword);
    expect(signedIn.status).to.equal(200);
    expect(cookieValue(signedIn, 'drumbeat_session')).to.be.a('string');
  });

  it('doubles the back-off with each lockout up to the cap; within a window one attempt is let through after each', async () => {
    const waits: number[] = [];
    const checkedBetween: number[] = [];
    for (let lockout = 0; lockout < 8; lockout += 1) {
      let checked = 0;
      let refused = await login(app, wrongPassword);
      while (refused.status === 401) {
        checked += 1;
        refused = await login(app, wrongPassword);
      }
      expect(refused.status).to.equal(429);
      checkedBetween.push(checked);
      const wait = Number(refused.headers.get('retry-after'));
      waits.push(wait);
      clock.advance(wait * 1000);
    }
    expect(waits).to.deep.equal([60, 120, 240, 480, 960, 1920, 3600, 3600]);
    // A back-off shorter than the 15-minute window leaves the count at the limit: one more try.
    // A longer one outlasts the window, which starts again with 5 tries (at the longer back-off).
    expect(checkedBetween).to.deep.equal([5, 1, 1, 1, 5, 5, 5, 5]);
  });

  it('shares the counters between two api processes through Postgres', async () => {
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      expect((await login(attempt % 2 === 0 ? app : other, wrongPassword)).status).to.equal(401);
    }
    expect((await login(other, operatorPassword)).status).to.equal(429);
    expect((await login(app, operatorPassword)).status).to.equal(429);
    const rows = (await testDb()('login_throttles').orderBy('kind').select('kind', 'key', 'failures')) as Array<Record<string, unknown>>;
    expect(rows).to.deep.equal([
      { kind: 'account', key: email, failures: 5 },
      { kind: 'ip', key: '127.0.0.1', failures: 5 },
    ]);
  });

  it('counts a burst of concurrent guesses: no more than 5 passwords are checked', async () => {
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, index) => login(index % 2 === 0 ? app : other, wrongPassword).then((response) => response.status)));
    expect(statuses.filter((status) => status === 401)).to.have.length(5);
    expect(statuses.filter((status) => status === 429)).to.have.length(25);
  });

  it('answers an unknown email exactly as a known one, and throttles it the same way', async () => {
    const known = await login(app, wrongPassword);
    const unknown = await login(app, wrongPassword, {}, 'nobody@example.com');
    expect([known.status, unknown.status]).to.deep.equal([401, 401]);
    expect(await unknown.json()).to.deep.equal(await known.json());
    for (let attempt = 2; attempt <= 5; attempt += 1) await login(app, wrongPassword, {}, 'nobody@example.com');
    const throttled = await login(app, wrongPassword, {}, 'nobody@example.com');
    expect(throttled.status).to.equal(429);
    expect(throttled.headers.get('retry-after')).to.equal('60');
  });

  it('throttles one IP after 20 attempts across accounts, whatever the email', async () => {
    for (let attempt = 1; attempt <= 20; attempt += 1) {
      expect((await login(app, wrongPassword, {}, `guess-${attempt}@example.com`)).status).to.equal(401);
    }
    const refused = await login(app, operatorPassword);
    expect(refused.status).to.equal(429);
    expect(refused.headers.get('retry-after')).to.equal('60');
  });

  it('resets the account’s counter on a successful sign-in, and lets an office IP sign in many times', async () => {
    for (let round = 0; round < 3; round += 1) {
      for (let attempt = 1; attempt <= 4; attempt += 1) expect((await login(app, wrongPassword)).status).to.equal(401);
      expect((await login(app, operatorPassword)).status, `round ${round}`).to.equal(200);
    }
    for (let signIn = 0; signIn < 25; signIn += 1) expect((await login(app, operatorPassword)).status, `sign-in ${signIn}`).to.equal(200);
  });

  it('logs each failure with the email and the IP, never the password', async () => {
    await login(app, wrongPassword);
    for (let attempt = 2; attempt <= 6; attempt += 1) await login(app, wrongPassword);
    const failures = logLines.filter((line) => line.includes('admin_login_failed')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(failures).to.have.length(5);
    expect(failures[0]).to.include({ email, ip: '127.0.0.1', msg: 'admin sign-in refused' });
    expect(logLines.filter((line) => line.includes('admin_login_throttled'))).to.have.length(1);
    expect(logLines.join('')).not.to.include(wrongPassword);
  });

  it('refuses a sign-in whose Origin is not PUBLIC_URL’s with 403, and accepts the right one', async () => {
    for (const origin of ['https://evil.example', 'null', 'https://drumbeat.example.com.evil.example', 'http://drumbeat.example.com']) {
      const response = await login(app, operatorPassword, { origin });
      expect(response.status, origin).to.equal(403);
      expect(await response.json()).to.deep.equal({ error: 'sign-in from another origin refused' });
      expect(cookieValue(response, 'drumbeat_session')).to.equal(undefined);
    }
    expect(await testDb()('login_throttles').count({ n: '*' }).first(), 'refused before counting').to.deep.equal({ n: 0 });
    expect((await login(app, operatorPassword, { origin: 'https://drumbeat.example.com' })).status).to.equal(200);
  });
});
