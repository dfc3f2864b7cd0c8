import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { CampaignSpecError, parseCampaignSpec } from '../../src/campaigns/campaign-spec.js';
import { parseSegmentCondition, SegmentRuleError } from '../../src/segments/segment-rules.js';
import { addSegment } from '../../src/segments/segment-service.js';
import { freshEngine, runDrumbeat, seedCampaign, specFor } from '../support/engine.js';

describe('ICP segments and narrative memory', function () {
  this.timeout(60_000);
  const engine = freshEngine();
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  it('parses conditions with =, !=, ~= and in, and refuses anything else with the reason', () => {
    expect(parseSegmentCondition('company~=Acme')).to.deep.equal({ field: 'company', op: '~=', value: 'Acme' });
    expect(parseSegmentCondition('utm_source!=')).to.deep.equal({ field: 'utm_source', op: '!=', value: '' });
    expect(parseSegmentCondition('custom.tier in gold, silver')).to.deep.equal({ field: 'custom.tier', op: 'in', value: ['gold', 'silver'] });
    expect(parseSegmentCondition('first_name=O\'Brien = x')).to.deep.equal({ field: 'first_name', op: '=', value: "O'Brien = x" });
    expect(() => parseSegmentCondition('colour=red')).to.throw(SegmentRuleError, 'a lead field');
    expect(() => parseSegmentCondition('company>3')).to.throw(SegmentRuleError, 'is not a condition');
    expect(() => parseSegmentCondition('company~=')).to.throw(SegmentRuleError, 'contains needs some text');
    expect(() => parseSegmentCondition('custom.tier in ,')).to.throw(SegmentRuleError, 'an empty item');
    expect(() => parseSegmentCondition('custom.a-b=1')).to.throw(SegmentRuleError);
  });

  it('labels each lead with the first segment of the spec it matches (case ignored, custom fields too), and refuses unknown segment names per field', async () => {
    await addSegment(ctx.db, { name: 'gold-saas', conditions: ['custom.tier in gold,platinum', 'company~=saas'], now: ctx.clock.now() });
    await addSegment(ctx.db, { name: 'gold', conditions: ['custom.tier=GOLD'], now: ctx.clock.now() });
    await addSegment(ctx.db, { name: 'no-utm', conditions: ['utm_source='], now: ctx.clock.now() });
    const { campaignId } = await seedCampaign(ctx, {
      start: false,
      spec: { segments: ['gold-saas', 'gold', 'no-utm'] },
      leads: [
        { email: 'a@example.com', company: 'AcmeSaaS', custom: { tier: ' Gold' } },
        { email: 'b@example.com', company: 'Bakery', custom: { tier: 'gold' } },
        { email: 'c@example.com', company: 'AT&T <Labs>' },
        { email: 'd@example.com', company: 'Mañana', utmSource: 'linkedin' },
      ],
    });
    const labels = (await ctx.db('campaign_leads as cl').join('leads as l', 'l.id', 'cl.lead_id').where('cl.campaign_id', campaignId).orderBy('l.email').pluck('cl.segment')) as Array<string | null>;
    expect(labels).to.deep.equal(['gold-saas', 'gold', 'no-utm', null]);

    const unknown = ctx.campaigns.create(parseCampaignSpec(specFor({ segments: ['gold', 'nope', 'missing'] })));
    await expect(unknown).to.be.rejectedWith(CampaignSpecError, 'segments.1: segment "nope" does not exist');
    await expect(unknown).to.be.rejectedWith(CampaignSpecError, 'segments.2: segment "missing" does not exist');
    expect(() => parseCampaignSpec(specFor({ segments: ['gold', 'gold'] }))).to.throw(CampaignSpecError, 'segments: segment names must be unique');
  });

  it('segment add and segment list, as typed on the command line', async () => {
    const added = await runDrumbeat(['segment', 'add', 'enterprise', '--when', 'company~=Corp', '--when', 'custom.tier in gold, silver']);
    expect(added.code, added.stderr).to.equal(0);
    expect(added.stdout).to.equal('segment enterprise added: company~=Corp AND custom.tier in gold,silver\n');
    const [again, bad, none] = await Promise.all([
      runDrumbeat(['segment', 'add', 'enterprise', '--when', 'company=x']),
      runDrumbeat(['segment', 'add', 'mid', '--when', 'colour=red']),
      runDrumbeat(['segment', 'add', 'empty']),
    ]);
    expect([again.code, again.stderr]).to.deep.equal([1, 'drumbeat: a segment named "enterprise" already exists\n']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.match(/^drumbeat: "colour=red": field: a lead field \(email, first_name, .*\) or custom\.<key>\n$/);
    expect([none.code, none.stderr]).to.deep.equal([1, 'drumbeat: a segment needs at least one --when <field><op><value>\n']);
    const listed = await runDrumbeat(['segment', 'list']);
    expect(listed.stdout).to.equal('enterprise: company~=Corp AND custom.tier in gold,silver\n');
  });

  it('narratives: sends, replies and a Wilson interval per segment and angle across campaigns, best first by the interval', async () => {
    const first = await seedCampaign(ctx, { start: false });
    const second = await seedCampaign(ctx, { start: false });
    const stats = (campaignId: number, variant: string, segment: string, angle: string, sent: number, replied: number) => ({ campaign_id: campaignId, step_index: 0, variant, segment, angle, sent, replied });
    await ctx.db('variant_stats').insert([
      stats(first.campaignId, 'A', 'enterprise', 'pain-point', 100, 20),
      stats(first.campaignId, 'B', 'enterprise', 'social-proof', 10, 3),
      stats(second.campaignId, 'A', 'enterprise', 'pain-point', 50, 10),
      stats(second.campaignId, 'B', 'smb', 'pain-point', 30, 1),
    ]);
    const [table, json] = await Promise.all([runDrumbeat(['narratives']), runDrumbeat(['narratives', '--segment', 'enterprise', '--json'])]);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout.split('\n')).to.deep.equal([
      'segment     angle         sends  replies  reply rate  95% interval  campaigns',
      'enterprise  pain-point    150    30       20.0%       14.4%–27.1%   2',
      'enterprise  social-proof  10     3        30.0%       10.8%–60.3%   1',
      'smb         pain-point    30     1        3.3%        0.6%–16.7%    1',
      '',
    ]);
    const parsed = JSON.parse(json.stdout) as Array<{ segment: string; angle: string; sends: number; replies: number; replyRate: { rate: number; low: number; high: number } }>;
    expect(parsed.map((row) => [row.segment, row.angle, row.sends, row.replies])).to.deep.equal([
      ['enterprise', 'pain-point', 150, 30],
      ['enterprise', 'social-proof', 10, 3],
    ]);
    expect(parsed[0]?.replyRate.low).to.be.closeTo(0.144, 0.001);
  });
});
