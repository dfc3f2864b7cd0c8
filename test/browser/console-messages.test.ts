import { expect } from 'chai';
import { sendEmailQueue } from '../../queues/send-email.js';
import { expectNoSeriousA11yViolations } from '../support/browser.js';
import { eventually, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import { consoleSession, VIEWPORTS } from './console-harness.js';

describe('the messages page in Chromium', function () {
  this.timeout(60_000);
  const session = consoleSession();

  /** A running campaign with one DEAD and two UNKNOWN first messages, as a broken relay and a crash leave them. */
  async function stuckMessages(): Promise<{ campaignId: number; dead: number; unknown: [number, number] }> {
    const { campaignId } = await seedCampaign(session.app.ctx, { leads: makeLeads(3) });
    await session.app.ctx.ticks.runTick(campaignId, session.app.ctx.clock.now());
    // The tick queued their sends; these messages stand for ones whose sends went wrong.
    await session.app.ctx.queues.get(sendEmailQueue).obliterate({ force: true });
    const [dead, first, second] = (await session.app.ctx.db('messages').where({ campaign_id: campaignId }).orderBy('id').pluck('id')) as [number, number, number];
    await session.app.ctx.db('messages').where({ id: dead }).update({ status: 'DEAD', attempts: 5, last_error: 'SMTP relay refused at DATA: 451 4.3.0 Temporary local problem' });
    await session.app.ctx.db('messages').whereIn('id', [first, second]).update({ status: 'UNKNOWN', last_error: 'no answer within the send timeout (30s); it may have been sent', sending_at: session.app.ctx.clock.now() });
    return { campaignId, dead, unknown: [first, second] };
  }

  it('retries a DEAD message through the gates and resolves UNKNOWN ones, each audited', async () => {
    const { campaignId, dead, unknown } = await stuckMessages();
    await session.app.startWorkers();
    const { page } = await session.app.signIn(session.browser, 'operator');
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByText('SMTP relay refused at DATA: 451 4.3.0 Temporary local problem').waitFor();
    await page.getByRole('button', { name: `Retry message ${dead}` }).click();
    await page.getByText('Queued 1 DEAD message(s) again.').waitFor();
    await eventually(async () => (await session.app.ctx.db('messages').where({ id: dead }).first('status'))?.status === 'SENT_PROOF', 'the retried message sent');

    await page.getByLabel(`Resolve message ${unknown[0]} as`).selectOption('sent');
    await page.getByRole('button', { name: `Resolve message ${unknown[0]}` }).click();
    await page.getByText(`Message ${unknown[0]} resolved as sent (it arrived).`).waitFor();
    await page.getByLabel(`Resolve every UNKNOWN message of campaign ${campaignId} as`).selectOption('resend');
    await page.getByRole('button', { name: `Resolve all of campaign ${campaignId}` }).click();
    await page.getByText(`1 UNKNOWN message(s) of campaign ${campaignId} resolved as to be sent again.`).waitFor();
    await eventually(async () => (await statusCounts(session.app.ctx, campaignId)).SENT_PROOF === 3, 'the resent message sent');
    await page.getByText('No UNKNOWN message.').waitFor();
    await page.getByText('No DEAD message.').waitFor();

    const audit = (await session.app.ctx.db('audit_log').whereNot({ action: 'sign-in' }).orderBy('id').select('actor', 'via', 'action', 'subject_type', 'subject_id')) as Array<Record<string, unknown>>;
    expect(audit).to.deep.equal([
      { actor: 'operator@example.com', via: 'page', action: 'message.retry', subject_type: 'message', subject_id: String(dead) },
      { actor: 'operator@example.com', via: 'page', action: 'message.resolve', subject_type: 'message', subject_id: String(unknown[0]) },
      { actor: 'operator@example.com', via: 'page', action: 'message.resolve', subject_type: 'message', subject_id: String(unknown[1]) },
    ]);
  });

  it('shows a viewer the stuck campaign on the overview and the messages without controls, answers its retry with 403, and has no serious accessibility violation at both widths', async () => {
    const { dead } = await stuckMessages();
    for (const viewport of VIEWPORTS) {
      const { page, context } = await session.app.signIn(session.browser, 'viewer', viewport);
      const attention = page.locator('table:has(caption:text("Campaigns that need attention")) tbody tr');
      expect(await attention.allInnerTexts()).to.have.length(1);
      expect((await attention.first().locator('td').allInnerTexts()).slice(3)).to.deep.equal(['2', '1', '0']);
      await page.goto(session.app.url('/admin/messages'));
      await expectNoSeriousA11yViolations(page, `the messages page at ${viewport.width} px`);
      expect(await page.getByRole('button', { name: `Retry message ${dead}` }).count()).to.equal(0);
      const csrf = (await context.cookies()).find((cookie) => cookie.name === 'XSRF-TOKEN')?.value ?? '';
      expect((await page.request.post(session.app.url(`/admin/messages/${dead}/retry`), { form: { _csrf: csrf } })).status()).to.equal(403);
    }
    expect((await session.app.ctx.db('messages').where({ id: dead }).first('status'))?.status).to.equal('DEAD');
  });
});
