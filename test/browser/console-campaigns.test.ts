import { expect } from 'chai';
import { expectNoSeriousA11yViolations, takeReadmeScreenshot } from '../support/browser.js';
import { makeLeads, projectRoot, seedCampaign } from '../support/engine.js';
import { consoleSession, VIEWPORTS } from './console-harness.js';

const validSpec = `name: Spring launch
slug: spring-launch
mode: PROOF
from: { name: Ada, email: ada@example.com }
steps:
  - channel: email
    subject: "Hi <%= it.lead.firstName %>"
    body: "Hello <%= it.lead.firstName %>"
  - channel: email
    delay: 3d
    body: "Following up"
`;

describe('the campaign pages in Chromium', function () {
  this.timeout(60_000);
  const session = consoleSession();

  it('creates a campaign from a pasted spec (errors per field first), approves, starts, pauses and resumes it, each audited', async () => {
    const { page } = await session.app.signIn(session.browser, 'operator');
    await page.getByRole('link', { name: 'Campaigns' }).click();
    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByLabel('Spec', { exact: true }).fill(validSpec.replace('delay: 3d', 'delay: soon').replace('mode: PROOF', 'mode: LOUD'));
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByText('The spec has errors; each is listed with its field.').waitFor();
    const issues = await page.locator('#spec-issues li').allInnerTexts();
    expect(issues.some((issue) => issue.startsWith('mode:'))).to.equal(true);
    expect(issues.some((issue) => issue.startsWith('steps.1.delay:'))).to.equal(true);
    expect(await session.app.ctx.db('campaigns').count<Array<{ count: number }>>('* as count')).to.deep.equal([{ count: 0 }]);

    await page.getByLabel('Spec', { exact: true }).fill(validSpec);
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByText('Campaign "Spring launch" created (DRAFT)').waitFor();
    await page.getByRole('heading', { name: 'Step 2: email, 3 days after step 1' }).waitFor();
    expect(await page.getByRole('button', { name: 'Start' }).count(), 'no start before approval').to.equal(0);
    await page.getByRole('button', { name: 'Approve strategy' }).click();
    await page.getByText('Strategy approved.').waitFor();
    await page.getByRole('button', { name: 'Start' }).click();
    await page.getByText('Campaign started.').waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Campaign paused.').waitFor();
    expect(await page.locator('dl.facts').innerText()).to.include('PAUSED');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('Campaign resumed.').waitFor();
    const campaign = (await session.app.ctx.db('campaigns').first('id', 'status')) as { id: number; status: string };
    expect(campaign.status).to.equal('ACTIVE');
    const audit = (await session.app.ctx.db('audit_log').whereNot({ action: 'sign-in' }).orderBy('id').select('actor', 'action', 'subject_id', 'before', 'after')) as Array<Record<string, unknown>>;
    expect(audit.map((entry) => entry.action)).to.deep.equal(['campaign.create', 'campaign.approve', 'campaign.start', 'campaign.pause', 'campaign.resume']);
    expect(audit[3]).to.deep.include({ actor: 'operator@example.com', subject_id: String(campaign.id), before: { status: 'ACTIVE', strategyStatus: 'APPROVED', strategyNote: null }, after: { status: 'PAUSED', strategyStatus: 'APPROVED', strategyNote: null } });

    // A refused action (the state moved on) comes back as a notice, not an error page.
    await session.app.ctx.campaigns.pause(campaign.id, 'test');
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText(`campaign ${campaign.id} is PAUSED; it must be ACTIVE to become PAUSED`).waitFor();
  });

  it('lets a reviewer read a campaign but not pause it: no button, and the post answers 403', async () => {
    const { campaignId } = await seedCampaign(session.app.ctx, { leads: makeLeads(2) });
    const { page, context } = await session.app.signIn(session.browser, 'reviewer');
    await page.goto(session.app.url(`/admin/campaigns/${campaignId}`));
    await page.getByRole('heading', { name: 'Sequence' }).waitFor();
    expect(await page.getByRole('button', { name: 'Pause' }).count()).to.equal(0);
    const csrf = (await context.cookies()).find((cookie) => cookie.name === 'XSRF-TOKEN')?.value ?? '';
    const response = await page.request.post(session.app.url(`/admin/campaigns/${campaignId}/pause`), { form: { _csrf: csrf } });
    expect(response.status()).to.equal(403);
    expect(await response.text()).to.include('your role (reviewer) may not');
    expect(((await session.app.ctx.campaigns.require(campaignId)) as { status: string }).status).to.equal('ACTIVE');
  });

  it('searches and pages the lead table from Postgres', async () => {
    const leads = makeLeads(60).map((lead, index) => (index === 7 ? { ...lead, company: 'AT&T <Labs>', firstName: '小林' } : lead));
    const { campaignId } = await seedCampaign(session.app.ctx, { leads });
    const { page } = await session.app.signIn(session.browser, 'viewer');
    await page.goto(session.app.url(`/admin/campaigns/${campaignId}`));
    const rows = page.locator('table:has(caption:text("Leads of this campaign")) tbody tr');
    expect(await rows.count()).to.equal(50);
    await page.getByRole('link', { name: 'Next page' }).click();
    expect(await rows.count()).to.equal(10);
    await page.getByLabel('Search by email, name or company').fill('at&t <lab');
    await page.getByRole('button', { name: 'Search' }).click();
    expect(await rows.count()).to.equal(1);
    expect(await rows.first().innerText()).to.include('小林');
    expect(await rows.first().innerText()).to.include('AT&T <Labs>');
  });

  it('shows a campaign’s charts within the screen, has no serious accessibility violation on the campaign list, a campaign and the new-campaign form at both widths, and takes the screenshots', async () => {
    const { campaignId } = await seedCampaign(session.app.ctx, { leads: makeLeads(8), spec: { name: 'Q4 launch' } });
    await session.app.ctx.ticks.runTick(campaignId, session.app.ctx.clock.now());
    for (const viewport of VIEWPORTS) {
      const { page } = await session.app.signIn(session.browser, 'admin', viewport);
      if (viewport.width === 1280) await takeReadmeScreenshot(page, projectRoot, 'overview');
      await page.goto(session.app.url('/admin/campaigns'));
      await expectNoSeriousA11yViolations(page, `the campaign list at ${viewport.width} px`);
      await page.goto(session.app.url(`/admin/campaigns/${campaignId}`));
      const charts = page.locator('.charts svg[role="img"]');
      expect(await charts.count(), 'the daily and funnel charts (this campaign has no variants to chart)').to.equal(2);
      const chartWidth = (await charts.first().boundingBox())?.width ?? Infinity;
      expect(chartWidth, 'a chart fits the screen').to.be.at.most(viewport.width);
      await expectNoSeriousA11yViolations(page, `a campaign at ${viewport.width} px`);
      if (viewport.width === 1280) await takeReadmeScreenshot(page, projectRoot, 'campaign');
      await page.goto(session.app.url('/admin/campaigns/new'));
      await expectNoSeriousA11yViolations(page, `the new-campaign form at ${viewport.width} px`);
    }
  });
});
