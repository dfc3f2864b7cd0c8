import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { addOperator } from '../../src/operators/operator-service.js';
import { resetDatabase, testConfig, testDb } from '../setup/hooks.js';
import { startApp, type RunningApp } from '../http/http-harness.js';
import { expectNoSeriousA11yViolations, launchChromium } from '../support/browser.js';
import { freePort } from '../support/private-redis.js';

describe('the sign-in page in Chromium', function () {
  this.timeout(60_000);
  let browser: Browser;
  let app: RunningApp;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser.close();
  });

  beforeEach(async () => {
    await resetDatabase();
    await addOperator(testDb(), 'ada@example.com', 'a long enough passphrase', { role: 'admin' });
    // The browser's origin must be PUBLIC_URL's: sign-in refuses any other (login CSRF).
    const port = await freePort();
    app = await startApp({ config: testConfig({ PUBLIC_URL: `http://127.0.0.1:${port}` }) }, port);
  });

  afterEach(() => app.close());

  it('signs an operator in with the keyboard, refuses a wrong password in words, and has no serious accessibility violation', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      await page.goto(app.url('/admin/login'));
      await expectNoSeriousA11yViolations(page, 'the sign-in page');
      await page.getByLabel('Email').fill('ada@example.com');
      await page.getByLabel('Password').fill('not the passphrase');
      await page.getByLabel('Password').press('Enter');
      await page.getByText('Wrong email or password.').waitFor();
      await page.getByLabel('Password').fill('a long enough passphrase');
      await page.getByLabel('Password').press('Enter');
      await page.waitForURL((url) => !url.pathname.endsWith('/login'));
      expect(new URL(page.url()).pathname.startsWith('/admin')).to.equal(true);
    } finally {
      await context.close();
    }
  });
});
