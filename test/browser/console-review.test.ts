import { expect } from 'chai';
import { expectNoSeriousA11yViolations, takeReadmeScreenshot } from '../support/browser.js';
import { eventually, makeLeads, seedCampaign, statusCounts } from '../support/engine.js';
import { projectRoot } from '../support/engine.js';
import { consoleSession, VIEWPORTS } from './console-harness.js';

/** A review campaign whose first step is an HTML email, so the page shows both parts. */
const reviewedSpec = {
  name: 'Launch & <Labs>',
  requireReview: true,
  steps: [{ channel: 'email' as const, subject: 'Hi <%= it.lead.firstName %>', body: '<p>Hello <b><%= it.lead.firstName %></b>, <a href="https://example.com">look</a></p>', format: 'html' as const }],
};

describe('the review queue in Chromium', function () {
  this.timeout(60_000);
  const session = consoleSession();

  async function waitingMessages(count: number): Promise<{ campaignId: number; ids: number[] }> {
    const leads = makeLeads(count).map((lead, index) => (index === 0 ? { ...lead, firstName: "Seán O'Brien" } : lead));
    const { campaignId } = await seedCampaign(session.app.ctx, { spec: reviewedSpec, leads });
    await session.app.ctx.ticks.runTick(campaignId, session.app.ctx.clock.now());
    const ids = (await session.app.ctx.reviews.list({ campaignId })).map((message) => message.id);
    expect(ids).to.have.length(count);
    return { campaignId, ids };
  }

  it('approves, rejects and edits waiting messages, with the keyboard too, and each decision is sent or not and audited', async () => {
    const { campaignId, ids } = await waitingMessages(4);
    const [first, second, third, fourth] = ids as [number, number, number, number];
    await session.app.startWorkers();
    const { page } = await session.app.signIn(session.browser, 'reviewer');
    await page.getByRole('link', { name: 'Review (4)' }).click();
    await page.getByText('j next message').waitFor();
    const firstCard = page.locator(`[data-message-id="${first}"]`);
    expect(await firstCard.getByText("Hi Seán O'Brien").count()).to.equal(1);
    const html = page.frameLocator(`iframe[title="HTML of message ${first} as the recipient will see it"]`);
    expect(await html.locator('b').innerText()).to.equal("Seán O'Brien");
    expect(await firstCard.locator('iframe').getAttribute('sandbox')).to.equal('');

    // Approve with the mouse: sent once (PROOF ledger).
    await firstCard.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('1 message approved.').waitFor();
    await eventually(async () => (await statusCounts(session.app.ctx, campaignId)).SENT_PROOF === 1, 'the approved message sent');

    // Reject with a reason.
    const secondCard = page.locator(`[data-message-id="${second}"]`);
    await secondCard.getByLabel(`Reason to reject message ${second}`).fill('Wrong tone for AT&T <Labs>');
    await secondCard.getByRole('button', { name: 'Reject' }).click();
    await page.getByText('1 message rejected.').waitFor();

    // Edit: the new text is data, never a template, and is sent exactly as written.
    await page.locator(`[data-message-id="${third}"]`).getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('Subject').fill('Edited: 5 < 6 & "quotes"');
    await page.getByLabel('Body').fill('<p>Plain words, <%= not a tag %> kept?</p>');
    await page.getByRole('button', { name: 'Save edit' }).click();
    await page.getByText('edit refused').waitFor();
    await page.getByLabel('Body').fill('<p>Written by a person: 5 &lt; 6, café ☕</p>');
    await page.getByRole('button', { name: 'Save edit' }).click();
    await page.getByText(`Message ${third} edited; it still waits for approval.`).waitFor();

    // The keyboard: the third message is first now; j moves to the fourth, k back, a approves.
    await page.keyboard.press('j');
    expect(await page.locator('.message-card.current').getAttribute('data-message-id')).to.equal(String(fourth));
    await page.keyboard.press('k');
    expect(await page.locator('.message-card.current').getAttribute('data-message-id')).to.equal(String(third));
    await page.keyboard.press('a');
    await page.getByText('1 message approved.').waitFor();
    await page.keyboard.press('r');
    await page.keyboard.type('Not now');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByText('1 message rejected.').waitFor();
    await page.getByText('No message is waiting for review.').waitFor();

    await eventually(async () => (await statusCounts(session.app.ctx, campaignId)).SENT_PROOF === 2, 'the edited message sent');
    const sent = (await session.app.ctx.db('proof_deliveries').orderBy('message_id').select('message_id', 'subject', 'body')) as Array<Record<string, unknown>>;
    expect(sent).to.deep.equal([
      { message_id: first, subject: "Hi Seán O'Brien", body: `<p>Hello <b>Seán O&#39;Brien</b>, <a href="https://example.com">look</a></p>` },
      { message_id: third, subject: 'Edited: 5 < 6 & "quotes"', body: '<p>Written by a person: 5 &lt; 6, café ☕</p>' },
    ]);
    expect(await statusCounts(session.app.ctx, campaignId)).to.deep.equal({ SENT_PROOF: 2, REJECTED: 2 });
    const audit = (await session.app.ctx.db('audit_log').whereNot({ action: 'sign-in' }).orderBy('id').select('actor', 'via', 'action', 'subject_id')) as Array<Record<string, unknown>>;
    expect(audit).to.deep.equal(
      [
        ['message.approve', first],
        ['message.reject', second],
        ['message.edit', third],
        ['message.approve', third],
        ['message.reject', fourth],
      ].map(([action, id]) => ({ actor: 'reviewer@example.com', via: 'page', action, subject_id: String(id) })),
    );
  });

  it('bulk-approves the selected messages', async () => {
    const { campaignId } = await waitingMessages(3);
    const { page } = await session.app.signIn(session.browser, 'operator');
    await page.goto(session.app.url('/admin/review'));
    await page.getByLabel('Select all on this page').check();
    await page.getByRole('button', { name: 'Approve selected' }).click();
    await page.getByText('3 messages approved.').waitFor();
    expect(await statusCounts(session.app.ctx, campaignId)).to.deep.equal({ QUEUED: 3 });
  });

  it('shows a viewer no decision controls and answers its approval with 403', async () => {
    const { ids } = await waitingMessages(1);
    const { page, context } = await session.app.signIn(session.browser, 'viewer');
    await page.goto(session.app.url('/admin/review'));
    await page.locator(`[data-message-id="${ids[0]}"]`).waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).count()).to.equal(0);
    expect(await page.getByRole('button', { name: 'Reject' }).count()).to.equal(0);
    const csrf = (await context.cookies()).find((cookie) => cookie.name === 'XSRF-TOKEN')?.value ?? '';
    const response = await page.request.post(session.app.url(`/admin/review/${ids[0]}/approve`), { form: { _csrf: csrf } });
    expect(response.status()).to.equal(403);
    expect((await session.app.ctx.reviews.list()).map((message) => message.id)).to.deep.equal(ids);
  });

  it('has no serious accessibility violation on the review queue and the edit page at both widths, and takes its screenshot', async () => {
    const { ids } = await waitingMessages(2);
    for (const viewport of VIEWPORTS) {
      const { page } = await session.app.signIn(session.browser, 'admin', viewport);
      await page.goto(session.app.url('/admin/review'));
      await expectNoSeriousA11yViolations(page, `the review queue at ${viewport.width} px`);
      if (viewport.width === 1280) await takeReadmeScreenshot(page, projectRoot, 'review');
      await page.goto(session.app.url(`/admin/review/${ids[0]}/edit`));
      await expectNoSeriousA11yViolations(page, `the edit page at ${viewport.width} px`);
    }
  });
});
