import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { expectNoSeriousA11yViolations } from '../support/browser.js';
import { eventually, seedCampaign } from '../support/engine.js';
import { consoleSession, VIEWPORTS } from './console-harness.js';

/** A CSV as people have them: real names, one bad address, one row already there. */
const upload = [
  'email,first_name,last_name,company',
  "niamh@oconnor.example,Niamh,O'Connor,Procter & Gamble",
  'yuki@tokyo.example,由紀,佐藤,株式会社 <テスト>',
  'not-an-address,Bad,Row,Nowhere',
].join('\n');

/** The rows of the audit log page's table, as the operator reads them (when, who, via, action, subject, before, after). */
async function auditTable(page: Page): Promise<string[][]> {
  const rows = page.locator('table:has(caption:text("Audit log entries")) tbody tr');
  return Promise.all((await rows.all()).map((row) => row.locator('td').allInnerTexts()));
}

describe('the data pages in Chromium: imports, leads, suppressions, operators, audit log', function () {
  this.timeout(90_000);
  const session = consoleSession();

  it('uploads a CSV to a campaign and watches its import finish, downloads the error report, and finds the lead with the message it was sent', async () => {
    const { campaignId } = await seedCampaign(session.app.ctx, { spec: { name: 'Spring 春 & <Summer>' }, leads: [] });
    await session.app.startWorkers();
    const { page, email } = await session.app.signIn(session.browser, 'operator');
    await page.getByRole('link', { name: 'Imports' }).click();
    await page.getByLabel('Campaign', { exact: true }).selectOption(String(campaignId));
    await page.getByLabel(/^CSV file/).setInputFiles({ name: 'crm export.csv', mimeType: 'text/csv', buffer: Buffer.from(upload) });
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await page.getByText('Import finished: 3 rows read: 2 imported, 0 duplicates, 1 invalid, 0 suppressed.').waitFor();

    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: /^Download the error report of import \d+ \(CSV\)$/ }).click();
    const report = await readFile(await (await download).path(), 'utf8');
    expect(report.split('\r\n')[1]).to.match(/^4,email: /);

    // The lead, found by a part of its company name, with the message the tick wrote for it.
    await session.app.ctx.ticks.runTick(campaignId, session.app.ctx.clock.now());
    await page.getByRole('link', { name: 'Leads' }).click();
    await page.getByLabel('Search by email, name or company').fill('procter');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: 'niamh@oconnor.example' }).click();
    await page.getByRole('heading', { name: 'niamh@oconnor.example' }).waitFor();
    await page.getByText('Spring 春 & <Summer>').first().waitFor();
    await page.getByText('Subject: Hello Niamh').waitFor();
    expect(await page.getByRole('link', { name: 'Forget this person' }).count(), 'an operator may not forget people').to.equal(0);

    const audit = (await session.app.ctx.db('audit_log').orderBy('id').select('actor', 'via', 'action', 'subject_type', 'subject_id')) as Array<Record<string, unknown>>;
    expect(audit.filter((entry) => entry.action !== 'sign-in')).to.deep.equal([{ actor: email, via: 'page', action: 'import.upload', subject_type: 'campaign', subject_id: String(campaignId) }]);
  });

  it('lets an admin forget a person, manage suppressions, operators and tokens, and shows every change in the audit log', async () => {
    const { leadIds } = await seedCampaign(session.app.ctx, { leads: [{ email: "sean.o'brien@example.com", firstName: 'Seán', lastName: "O'Brien", company: 'AT&T <Labs>' }] });
    const { page, email } = await session.app.signIn(session.browser, 'admin');

    await page.goto(session.app.url(`/admin/leads/${leadIds[0]}`));
    await page.getByRole('link', { name: 'Forget this person' }).click();
    await page.getByText('This cannot be undone.').waitFor();
    await page.getByRole('button', { name: 'Forget this person now' }).click();
    await page.getByText(`Lead ${leadIds[0]} forgotten`).waitFor();
    await page.getByRole('heading', { name: `Lead ${leadIds[0]} (erased)` }).waitFor();

    await page.getByRole('link', { name: 'Suppressions' }).click();
    await page.getByLabel('Address, @domain or identity hash').fill('@spam.example');
    await page.getByRole('button', { name: 'Add suppression' }).click();
    await page.getByText('Suppressed domain spam.example everywhere.').waitFor();
    await page.getByLabel(/^File \(one address/).setInputFiles({ name: 'optouts.csv', mimeType: 'text/csv', buffer: Buffer.from('email\nana@example.com\nnot an address\n') });
    // The page's script reads the file into the text box asynchronously (FileReader): wait for it.
    await eventually(async () => (await page.getByLabel(/^Lines to import/).inputValue()).includes('ana@example.com'), 'the chosen file in the text box');
    await page.getByRole('button', { name: 'Import suppressions' }).click();
    await page.getByText('Suppressed 1. Refused 1: line 3').waitFor();
    await page.getByRole('button', { name: 'Remove spam.example' }).click();
    await page.getByText('Removed the suppression of @spam.example.').waitFor();
    // The forgotten person is found by their address, as a hash.
    await page.getByRole('searchbox', { name: 'Search', exact: true }).fill("sean.o'brien@example.com");
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    expect(await page.locator('table:has(caption:text("Suppressions")) tbody tr').count()).to.equal(1);

    await page.getByRole('link', { name: 'Operators' }).click();
    await page.getByLabel('Email', { exact: true }).fill('zoe@example.com');
    await page.getByLabel('Password (at least 12 characters)').fill('another long passphrase');
    await page.getByLabel('Role', { exact: true }).selectOption('reviewer');
    await page.getByRole('button', { name: 'Add operator' }).click();
    await page.getByText('Operator zoe@example.com added as reviewer.').waitFor();
    await page.getByRole('button', { name: 'Disable zoe@example.com' }).click();
    await page.getByText('Operator zoe@example.com disabled').waitFor();
    await page.getByLabel('Name (what it is for)').fill('CI deploys');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByLabel('The token').inputValue();
    expect(token).to.match(/^dbt_/);
    await page.getByRole('link', { name: 'Back to operators and tokens' }).click();
    expect(await page.content(), 'the token is shown once').not.to.include(token);
    await page.getByRole('button', { name: 'Revoke token CI deploys' }).click();
    await page.getByText('Token "CI deploys" revoked.').waitFor();

    await page.getByRole('link', { name: 'Audit log' }).click();
    const actions = (await auditTable(page)).map((cells) => [cells[1], cells[2], cells[3]]);
    expect(actions).to.deep.equal(
      [
        [email, 'page', 'sign-in'],
        [email, 'page', 'lead.forget'],
        [email, 'page', 'suppression.add'],
        [email, 'page', 'suppression.import'],
        [email, 'page', 'suppression.remove'],
        [email, 'page', 'operator.add'],
        [email, 'page', 'operator.disable'],
        [email, 'page', 'token.create'],
        [email, 'page', 'token.revoke'],
      ].reverse(),
    );
    expect(await page.content(), 'no address of the forgotten person, no token').not.to.include('brien@').and.not.to.include(token);

    // Filters: by action, and by the person's address (which finds their hash).
    await page.getByLabel('Action', { exact: true }).selectOption('operator.disable');
    await page.getByRole('button', { name: 'Filter' }).click();
    expect((await auditTable(page)).map((cells) => cells[3])).to.deep.equal(['operator.disable']);
    expect((await auditTable(page))[0]?.[5]).to.include('"disabled":false');
    await page.getByLabel('Action', { exact: true }).selectOption('');
    await page.getByLabel('Subject id (or a person’s address)').fill("Sean.O'Brien@example.com");
    await page.getByRole('button', { name: 'Filter' }).click();
    expect((await auditTable(page)).map((cells) => cells[3])).to.deep.equal(['lead.forget']);
  });

  it('shows a viewer every data page without an action button, answers its posts with 403, and none of them (as an admin sees them, with every control) has a serious accessibility violation at both widths', async () => {
    const { leadIds } = await seedCampaign(session.app.ctx, { leads: [{ email: 'ana@example.com', firstName: 'Ana', company: 'Acme' }] });
    await session.app.ctx.db('suppressions').insert({ kind: 'domain', value: 'spam.example', reason: 'manual', created_by: 'test', created_at: session.app.ctx.clock.now() });
    const pages = ['/admin/imports', '/admin/leads', `/admin/leads/${leadIds[0]}`, '/admin/suppressions', '/admin/audit'];
    for (const viewport of VIEWPORTS) {
      const admin = await session.app.signIn(session.browser, 'admin', viewport);
      for (const path of [...pages, '/admin/operators']) {
        await admin.page.goto(session.app.url(path));
        await expectNoSeriousA11yViolations(admin.page, `${path} for an admin at ${viewport.width} px`);
      }
      const { page, context } = await session.app.signIn(session.browser, 'viewer', viewport);
      for (const path of pages) {
        await page.goto(session.app.url(path));
        expect(await page.locator('main form[method="post"]').count(), `${path} has no action for a viewer`).to.equal(0);
      }
      await page.goto(session.app.url('/admin/operators'));
      await page.getByText('your role (viewer) may not manage operators and API tokens').waitFor();
      const csrf = (await context.cookies()).find((cookie) => cookie.name === 'XSRF-TOKEN')?.value ?? '';
      const posts: Array<[string, Record<string, string>]> = [
        [`/admin/leads/${leadIds[0]}/forget`, {}],
        ['/admin/suppressions', { target: '@evil.example' }],
        ['/admin/suppressions/remove', { target: '@spam.example' }],
        ['/admin/suppressions/import', { lines: 'x@example.com' }],
        ['/admin/operators', { email: 'eve@example.com', password: 'a long enough passphrase', role: 'admin' }],
        ['/admin/tokens', { name: 'mine', expires: 'never' }],
        ['/admin/operators/1/disable', {}],
        ['/admin/tokens/1/revoke', {}],
      ];
      for (const [path, form] of posts) {
        expect((await page.request.post(session.app.url(path), { form: { _csrf: csrf, ...form } })).status(), path).to.equal(403);
      }
      const uploadRefused = await page.request.post(session.app.url(`/admin/imports/upload?campaign=1`), {
        headers: { 'x-csrf-token': csrf },
        multipart: { file: { name: 'x.csv', mimeType: 'text/csv', buffer: Buffer.from('email\nx@example.com\n') } },
      });
      expect(uploadRefused.status()).to.equal(403);
    }
    expect(await session.app.ctx.db('suppressions').count({ n: '*' }).first()).to.deep.equal({ n: 1 });
    expect(await session.app.ctx.db('operators').count({ n: '*' }).first()).to.deep.equal({ n: 2 });
    expect((await session.app.ctx.db('leads').where({ id: leadIds[0] }).first('email'))?.email).to.equal('ana@example.com');
  });
});
