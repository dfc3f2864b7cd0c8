import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { seededRandom } from '../../src/core/random.js';
import { upsertLeads } from '../../src/leads/lead-store.js';
import { enrollLeads } from '../../src/enrollments/enrollment-lifecycle.js';
import { previewCampaignStep } from '../../src/messages/preview.js';
import { CampaignSpecError, parseCampaignSpec } from '../../src/campaigns/campaign-spec.js';
import { eventually, freshEngine, makeLeads, seedCampaign, specFor, statusCounts } from '../support/engine.js';
import { clockNow } from '../support/clock.js';
import { applyFeedback, sentMessages } from '../analytics/learning-support.js';

describe('variant choice that learns (Thompson sampling)', function () {
  this.timeout(60_000);
  const clock = clockNow();
  const engine = freshEngine(() => {
    clock.reanchor(clockNow());
    return { clock, random: seededRandom(15) };
  });
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  const learningStep = {
    channel: 'email' as const,
    delay: '0s',
    variantSelection: 'thompson' as const,
    minSendsPerVariant: 20,
    variants: [
      { name: 'A', subject: 'Fix <%= it.lead.company %>', body: 'Pain', angle: 'pain-point' },
      { name: 'B', subject: 'Peers of <%= it.lead.company %>', body: 'Proof', angle: 'social-proof' },
    ],
  };

  async function variantsOf(campaignId: number, leadIds: readonly number[]): Promise<Array<{ variant: string; variant_reason: string }>> {
    return (await ctx.db('messages').where({ campaign_id: campaignId }).whereIn('lead_id', [...leadIds]).select('variant', 'variant_reason')) as Array<{
      variant: string;
      variant_reason: string;
    }>;
  }

  it('takes turns until each variant has its sends, then sends at least 80 % of later leads to the variant that gets replies', async () => {
    const { campaignId, leadIds } = await seedCampaign(ctx, { leads: makeLeads(40, 'wave1'), spec: { steps: [learningStep] } });
    await engine.startWorkers();
    await ctx.ticks.runTick(campaignId, clock.now());
    const warmUp = await variantsOf(campaignId, leadIds);
    expect(warmUp.filter((message) => message.variant === 'A')).to.have.length(20);
    expect(warmUp.every((message) => message.variant_reason.startsWith('warm-up in segment (none): least sent'))).to.equal(true);
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 40, 'forty sends');

    // Half of variant A's leads reply; nobody answers B.
    const sent = await sentMessages(ctx, campaignId);
    const repliedTo = sent.filter((message) => message.variant === 'A').slice(0, 10);
    await applyFeedback(
      ctx,
      repliedTo.map((message) => ({ type: 'replied' as const, externalId: message.external_id, occurredAt: clock.now() })),
    );
    await ctx.rollup.run();

    const later = await upsertLeads(ctx.db, makeLeads(100, 'wave2'), clock.now());
    await enrollLeads(ctx.db, campaignId, [...later.values()], 0, clock.now());
    clock.advance(1000);
    await ctx.ticks.runTick(campaignId, clock.now());
    const learnt = await variantsOf(campaignId, [...later.values()]);
    expect(learnt).to.have.length(100);
    const shareA = learnt.filter((message) => message.variant === 'A').length / learnt.length;
    expect(shareA).to.be.at.least(0.8);
    expect(learnt[0]?.variant_reason).to.match(/^thompson in segment \(none\): A 0\.\d{3} \(10\/20\), B 0\.\d{3} \(0\/20\)$/);

    const preview = await previewCampaignStep(ctx.db, campaignId, 'wave2-0@example.com', 1);
    expect(preview.variantChoice).to.match(/^learnt: chosen when the message is planned, by Thompson sampling/);
  });

  it('is for steps with variants only', () => {
    expect(() => parseCampaignSpec(specFor({ steps: [{ channel: 'email', subject: 'Hi', body: 'x', variantSelection: 'thompson' }] }))).to.throw(
      CampaignSpecError,
      'steps.0.variantSelection: thompson selection chooses between variants; this step has none',
    );
  });
});
