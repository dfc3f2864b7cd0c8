import { expect } from 'chai';
import { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { CampaignSpecError, parseCampaignSpec, type CampaignSpecInput } from '../../src/campaigns/campaign-spec.js';
import { loadCampaignDefinition, type CampaignDefinition } from '../../src/campaigns/campaign-definition.js';
import { previewCampaignStep } from '../../src/messages/preview.js';
import { campaignReport } from '../../src/analytics/campaign-report.js';
import { publishXQueue } from '../../queues/publish-x.js';
import { freshEngineWithClock, makeLeads, runDrumbeat, seedCampaign, specFor, statusCounts } from '../support/engine.js';

describe('campaign definition', function () {
  this.timeout(30_000);
  const engine = freshEngineWithClock();
  const { clock } = engine;
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  const prompt = 'Open with something about their work at their company.';
  const post = (text: string, platform: 'x' | 'linkedin' = 'x', requireReview = false) => ({
    platform,
    text,
    at: clock.at(1, '10:00').toISOString(),
    requireReview,
  });

  async function definition(campaignId: number): Promise<CampaignDefinition> {
    const loaded = await loadCampaignDefinition(ctx.db, campaignId);
    if (loaded === undefined) throw new Error(`campaign ${campaignId} has no definition`);
    return loaded;
  }

  const create = (spec: Partial<CampaignSpecInput>) => ctx.campaigns.create(parseCampaignSpec(specFor(spec)));

  it('writes a new campaign’s whole definition as rows: prompts, LLM fallback, custom fields, and posts listed before any tick', async () => {
    const campaignId = await create({
      llmFallback: 'REVIEW',
      customFields: ['plan'],
      steps: [
        { channel: 'email', subject: 'Hi <%= it.lead.firstName %>', body: 'On the <%= it.lead.custom.plan %> plan', personalize: { prompt } },
        { channel: 'linkedin', delay: '2d', body: 'Hello again' },
      ],
      posts: [post('Launch day'), post('Launch day, reviewed', 'linkedin', true)],
    });
    const { campaign, steps, posts } = await definition(campaignId);
    expect(campaign).to.include({ llmFallback: 'REVIEW', status: 'DRAFT' });
    expect(campaign.customFields).to.deep.equal(['plan']);
    expect(steps.map((step) => [step.stepIndex, step.channel, step.delayMs, step.personalizePrompt])).to.deep.equal([
      [0, 'email', 0, prompt],
      [1, 'linkedin', 172_800_000, null],
    ]);
    expect(posts.map((row) => [row.postIndex, row.postKey, row.platform, row.text, row.status, row.scheduledAt.toISOString()])).to.deep.equal([
      [0, `p${campaignId}-0`, 'x', 'Launch day', 'SCHEDULED', clock.at(1, '10:00').toISOString()],
      [1, `p${campaignId}-1`, 'linkedin', 'Launch day, reviewed', 'PENDING_REVIEW', clock.at(1, '10:00').toISOString()],
    ]);

    const listed = await runDrumbeat(['posts', 'list', String(campaignId)]);
    expect(listed.code).to.equal(0);
    expect(listed.stdout.trim().split('\n')).to.deep.equal([
      `#${posts[0]!.id}  ${clock.at(1, '10:00').toISOString()}  x  SCHEDULED  Launch day`,
      `#${posts[1]!.id}  ${clock.at(1, '10:00').toISOString()}  linkedin  PENDING_REVIEW  Launch day, reviewed`,
    ]);
  });

  it('runs from its rows, not the spec JSON: with campaigns.spec blanked, a personalised step still waits for the composer, its fallback still holds for review, posts get their jobs', async () => {
    const { campaignId } = await seedCampaign(ctx, {
      leads: makeLeads(2),
      spec: {
        llmFallback: 'REVIEW',
        steps: [{ channel: 'email', subject: 'Hi <%= it.lead.firstName %>', body: 'Plain text for <%= it.lead.firstName %>', personalize: { prompt } }],
        posts: [post('Launch day')],
      },
    });
    // The audit copy says nothing any more; what runs must not notice.
    await ctx.db('campaigns').where({ id: campaignId }).update({ spec: JSON.stringify({}) });

    const tick = await ctx.ticks.runTick(campaignId, clock.now());
    expect(tick).to.include({ created: 2, enqueued: 0, heldForReview: 0 });
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ PLANNED: 2 });
    const ids = (await ctx.db('messages').where({ campaign_id: campaignId }).orderBy('id').pluck('id')) as number[];
    // No LLM is configured here: each message falls back, and the campaign chose REVIEW.
    for (const id of ids) {
      expect(await ctx.compose.compose(id)).to.deep.include({ kind: 'fallback', status: 'PENDING_REVIEW', reason: 'LLM_BASE_URL is not set' });
    }
    expect(await statusCounts(ctx, campaignId)).to.deep.equal({ PENDING_REVIEW: 2 });

    const [scheduled] = (await definition(campaignId)).posts;
    const job = await Job.fromId(ctx.queues.get(publishXQueue), scheduled!.postKey);
    expect(await job?.getState()).to.equal('delayed');

    expect((await campaignReport(ctx.db, campaignId)).bySteps.map((step) => [step.step, step.channel, step.pendingReview])).to.deep.equal([[1, 'email', 2]]);
    expect(await previewCampaignStep(ctx.db, campaignId, 'lead-0@example.com', 1)).to.include({ subject: 'Hi First0', body: 'Plain text for First0' });
  });

  it('a sequence edit rewrites a DRAFT campaign’s posts in place; a PAUSED one keeps the posts it has and gains the new ones', async () => {
    const campaignId = await create({ posts: [post('First draft'), post('Dropped later', 'linkedin')] });
    const [first] = (await definition(campaignId)).posts;

    await ctx.campaigns.editSequence(
      campaignId,
      parseCampaignSpec(specFor({ llmFallback: 'REVIEW', steps: [{ channel: 'email', subject: 'Hi', body: 'Edited', personalize: { prompt } }], posts: [post('Second draft', 'x', true)] })),
      'dave',
    );
    const drafted = await definition(campaignId);
    expect(drafted.campaign).to.include({ llmFallback: 'REVIEW', strategyStatus: 'DRAFT' });
    expect(drafted.steps.map((step) => [step.body, step.personalizePrompt])).to.deep.equal([['Edited', prompt]]);
    expect(drafted.posts.map((row) => [row.id, row.postKey, row.text, row.status])).to.deep.equal([[first!.id, `p${campaignId}-0`, 'Second draft', 'PENDING_REVIEW']]);

    await ctx.campaigns.approve(campaignId, 'ok', 'carol');
    await ctx.campaigns.start(campaignId);
    await ctx.campaigns.pause(campaignId);
    await ctx.campaigns.editSequence(campaignId, parseCampaignSpec(specFor({ posts: [post('Third draft'), post('Added while paused', 'linkedin')] })), 'dave');
    const paused = await definition(campaignId);
    expect(paused.campaign).to.include({ llmFallback: 'TEMPLATE', status: 'PAUSED' });
    expect(paused.steps.map((step) => step.personalizePrompt)).to.deep.equal([null]);
    expect(paused.posts.map((row) => [row.postIndex, row.text, row.status])).to.deep.equal([
      [0, 'Second draft', 'PENDING_REVIEW'],
      [1, 'Added while paused', 'SCHEDULED'],
    ]);

    // The spec stays only as the audit copy of what was submitted last, shown with the campaign.
    const shown = await runDrumbeat(['campaign', 'show', String(campaignId), '--json']);
    expect(shown.code).to.equal(0);
    const { spec } = JSON.parse(shown.stdout) as { spec: { posts: Array<{ text: string }> } };
    expect(spec.posts.map((submitted) => submitted.text)).to.deep.equal(['Third draft', 'Added while paused']);
  });

  it('refuses a step naming an unknown or other-channel template, naming the field, and writes nothing', async () => {
    await ctx.templates.add({ name: 'dm', channel: 'linkedin', body: 'Hello <%= it.lead.firstName %>' }, 'test');
    const attempts: Array<[Partial<CampaignSpecInput>, string]> = [
      [{ steps: [{ channel: 'email', template: 'nowhere' }] }, 'steps.0: template "nowhere" does not exist'],
      [
        {
          steps: [
            { channel: 'email', subject: 'Hi', body: 'Hi' },
            { channel: 'email', variants: [{ name: 'A', subject: 'A', body: 'a' }, { name: 'B', template: 'dm' }] },
          ],
        },
        'steps.1.variants.B: template "dm" is for linkedin, the step sends email',
      ],
    ];
    for (const [spec, problem] of attempts) {
      await expect(create({ ...spec, posts: [post('Never written')] }), problem).to.be.rejectedWith(CampaignSpecError, problem);
    }
    expect(await ctx.db('campaigns').count('* as count')).to.deep.equal([{ count: 0 }]);
    expect(await ctx.db('campaign_posts').count('* as count')).to.deep.equal([{ count: 0 }]);
  });
});
