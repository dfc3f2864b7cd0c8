import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import type { NewLead } from '../../src/leads/lead-store.js';
import { claimForSending, settleFailedSend } from '../../src/messages/message-lifecycle.js';
import { unknownService } from '../../src/messages/unknown-service.js';
import type { CampaignSpecInput } from '../../src/campaigns/campaign-spec.js';
import { freshEngineWithClock, runDrumbeat, seedCampaign } from '../support/engine.js';

describe('the note beside each message', function () {
  this.timeout(30_000);
  const engine = freshEngineWithClock();
  const { clock } = engine;
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  const sean: NewLead = { email: 'sean.obrien@example.com', firstName: "Seán O'Brien", company: 'AT&T <Labs>', custom: { price: 'TBD' } };

  /** One campaign of one step for Seán; returns the id of the message its tick planned. */
  async function planned(spec: Partial<CampaignSpecInput>): Promise<{ campaignId: number; messageId: number }> {
    const { campaignId } = await seedCampaign(ctx, { leads: [sean], spec: { customFields: ['price'], ...spec } });
    await ctx.ticks.runTick(campaignId, clock.now());
    const messageId = ((await ctx.db('messages').where({ campaign_id: campaignId }).first('id')) as { id: number }).id;
    return { campaignId, messageId };
  }

  it('leads show prints why a message was held, rejected, skipped or resolved, each kept in its own column', async () => {
    const held = await planned({ requireReview: true, steps: [{ channel: 'email', subject: 'Hi', body: 'Price: <%= it.lead.custom.price %>' }] });
    const rejected = await planned({ requireReview: true, steps: [{ channel: 'email', subject: 'Hi', body: 'Hello <%= it.lead.firstName %>' }] });
    await ctx.reviews.reject([rejected.messageId], { by: 'bob', reason: 'off-brand' });
    const skipped = await planned({ steps: [{ channel: 'linkedin', body: 'Hello <%= it.lead.firstName %>' }] });
    expect(await ctx.sends.send(skipped.messageId, { attemptsMade: 0, attempts: 3 })).to.deep.equal({ kind: 'skipped', reason: 'lead has no linkedin address' });
    const resolved = await planned({ steps: [{ channel: 'email', subject: 'Hi', body: 'Hello <%= it.lead.firstName %>' }] });
    await claimForSending(ctx.db, [{ id: resolved.messageId, providerMessageId: null, unsubscribeTokenHash: null }], clock.now());
    await settleFailedSend(ctx.db, { id: resolved.messageId, to: 'UNKNOWN', error: 'AmbiguousSendError: no answer', now: clock.now(), effect: { kind: 'none' } });
    await unknownService({ db: ctx.db, queues: ctx.queues, clock, config: ctx.config }).resolve([resolved.messageId], 'sent', 'alice');

    const notes = (await ctx.db('messages')
      .orderBy('id')
      .select('status', 'skip_reason', 'review_hold_reason', 'rejection_reason', 'resolution_note')) as Array<Record<string, string | null>>;
    expect(notes).to.deep.equal([
      { status: 'PENDING_REVIEW', skip_reason: null, review_hold_reason: 'placeholder left in output: TBD in body: "Price: TBD"', rejection_reason: null, resolution_note: null },
      { status: 'REJECTED', skip_reason: null, review_hold_reason: null, rejection_reason: 'off-brand', resolution_note: null },
      { status: 'SKIPPED', skip_reason: 'lead has no linkedin address', review_hold_reason: null, rejection_reason: null, resolution_note: null },
      { status: 'SENT_PROOF', skip_reason: null, review_hold_reason: null, rejection_reason: null, resolution_note: 'resolved as sent by alice' },
    ]);

    const shown = await runDrumbeat(['leads', 'show', sean.email]);
    expect(shown.code, shown.stderr).to.equal(0);
    const lines = shown.stdout.split('\n').filter((line) => line.startsWith('  message '));
    expect(lines).to.deep.equal([
      `  message ${held.messageId} c${held.campaignId} step 1 email: PENDING_REVIEW (placeholder left in output: TBD in body: "Price: TBD")`,
      `  message ${rejected.messageId} c${rejected.campaignId} step 1 email: REJECTED (rejected in review: off-brand)`,
      `  message ${skipped.messageId} c${skipped.campaignId} step 1 linkedin: SKIPPED (lead has no linkedin address)`,
      `  message ${resolved.messageId} c${resolved.campaignId} step 1 email: SENT_PROOF (resolved as sent by alice)`,
    ]);
    const [heldForReview] = await ctx.reviews.list({ campaignId: held.campaignId });
    expect(heldForReview?.heldReason).to.equal('placeholder left in output: TBD in body: "Price: TBD"');
  });
});
