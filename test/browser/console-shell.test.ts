import { expect } from 'chai';
import { expectNoSeriousA11yViolations } from '../support/browser.js';
import { consoleSession, VIEWPORTS } from './console-harness.js';

describe('the console shell in Chromium', function () {
  this.timeout(60_000);
  const session = consoleSession();

  it('lands on the overview after sign-in, with every navigation link, the kill switch state and a sign-out button', async () => {
    const { page } = await session.app.signIn(session.browser, 'admin');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    const links = await nav.getByRole('link').allInnerTexts();
    expect(links).to.deep.equal(['Overview', 'Campaigns', 'Review (0)', 'Leads', 'Imports', 'Messages', 'Suppressions', 'Queues (Bull Board)', 'Operators', 'Audit log']);
    await page.getByText('Sending is running (kill switch off).').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(session.app.url('/admin/login'));
    await page.goto(session.app.url('/admin'));
    await page.waitForURL(session.app.url('/admin/login'));
  });

  it('stops and resumes all sending through a confirmation page, and records both in the audit log', async () => {
    const { page } = await session.app.signIn(session.browser, 'operator');
    await page.getByRole('link', { name: 'Stop all sending' }).click();
    await page.getByText('stops every email, LinkedIn, X and Instagram message').waitFor();
    await page.getByRole('button', { name: 'Stop all sending' }).click();
    await page.getByText('All sending is stopped.').first().waitFor();
    expect((await session.app.ctx.db('settings').where({ key: 'kill_switch' }).first()).value.on).to.equal(true);
    await page.getByRole('link', { name: 'Resume sending' }).click();
    await page.getByRole('button', { name: 'Resume sending' }).click();
    await page.getByText('Sending resumed.').waitFor();
    await page.getByText('Sending is running (kill switch off).').waitFor();
    const audit = (await session.app.ctx.db('audit_log').whereNot({ action: 'sign-in' }).orderBy('id').select('actor', 'via', 'action')) as Array<Record<string, string>>;
    expect(audit).to.deep.equal([
      { actor: 'operator@example.com', via: 'page', action: 'kill-switch.on' },
      { actor: 'operator@example.com', via: 'page', action: 'kill-switch.off' },
    ]);
  });

  it('shows a viewer no kill switch control and answers its post with 403', async () => {
    const { page, context } = await session.app.signIn(session.browser, 'viewer');
    await page.getByText('Sending is running (kill switch off).').waitFor();
    expect(await page.getByRole('link', { name: 'Stop all sending' }).count()).to.equal(0);
    const csrf = (await context.cookies()).find((cookie) => cookie.name === 'XSRF-TOKEN')?.value ?? '';
    const response = await page.request.post(session.app.url('/admin/kill-switch'), { form: { _csrf: csrf, on: 'true' } });
    expect(response.status()).to.equal(403);
    expect(await response.text()).to.include('your role (viewer) may not stop or resume all sending');
  });

  for (const viewport of VIEWPORTS) {
    it(`has no serious accessibility violation on the overview and the kill switch page at ${viewport.width} px`, async () => {
      const { page } = await session.app.signIn(session.browser, 'admin', viewport);
      await expectNoSeriousA11yViolations(page, `the overview at ${viewport.width} px`);
      await page.goto(session.app.url('/admin/kill-switch'));
      await expectNoSeriousA11yViolations(page, `the kill switch page at ${viewport.width} px`);
    });
  }
});
