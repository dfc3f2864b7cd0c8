import { expect } from 'chai';
import { parse as parseCsv } from 'csv-parse/sync';
import type { AppContext } from '../../src/runtime/context.js';
import type { NewLead } from '../../src/leads/lead-store.js';
import { campaignReport, type CampaignReport } from '../../src/analytics/campaign-report.js';
import { eventually, freshEngineWithClock, runDrumbeat, seedCampaign, statusCounts } from '../support/engine.js';
import { applyFeedback, defineCompanySegments, sentMessages } from './learning-support.js';

/** Twelve leads in three segments from two sources, one with a hostile source text. */
function sourcedLeads(): NewLead[] {
  const companies = ['Big Corp', 'Tiny', 'Other'];
  return Array.from({ length: 12 }, (_, index) => ({
    email: `reader-${index}@example.com`,
    firstName: index === 0 ? "Seán O'Brien" : `R${index}`,
    company: companies[index % 3] as string,
    source: index < 6 ? 'form' : '<script>alert(1)</script>',
    sourceRef: index < 6 ? 'spring-fair' : null,
    utmSource: index % 2 === 0 ? 'linkedin' : 'newsletter',
    utmCampaign: 'q4',
  }));
}

describe('the report people read', function () {
  this.timeout(60_000);
  const engine = freshEngineWithClock();
  const { clock } = engine;
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  /** A sent campaign with replies to variant A, a hard bounce, an UNKNOWN message and a pause. */
  async function campaignWithOutcomes(): Promise<number> {
    await defineCompanySegments(ctx);
    const { campaignId } = await seedCampaign(ctx, {
      leads: sourcedLeads(),
      spec: {
        name: 'Q4 AT&T <Labs>',
        segments: ['enterprise', 'smb'],
        steps: [
          {
            channel: 'email',
            delay: '0s',
            variants: [
              { name: 'A', subject: 'A', body: 'Pain', angle: 'pain-point' },
              { name: 'B', subject: 'B', body: 'Proof', angle: 'social-proof' },
            ],
          },
        ],
      },
    });
    await engine.startWorkers();
    await ctx.ticks.runTick(campaignId, clock.now());
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 12, 'twelve sends');
    const sent = await sentMessages(ctx, campaignId);
    await applyFeedback(ctx, [
      ...sent.filter((message) => message.variant === 'A').slice(0, 4).map((message) => ({ type: 'replied' as const, externalId: message.external_id, occurredAt: clock.now() })),
      { type: 'bounced', bounce: 'hard', externalId: sent.find((message) => message.variant === 'B')?.external_id, occurredAt: clock.now() },
    ]);
    await ctx.db('messages').where({ id: sent[sent.length - 1]?.id }).update({ status: 'UNKNOWN' });
    await ctx.campaigns.pause(campaignId, 'cli');
    return campaignId;
  }

  it('counts what went out and came back per day, step, channel, variant, segment and source, and totals match the database', async () => {
    const campaignId = await campaignWithOutcomes();
    const report = await campaignReport(ctx.db, campaignId);
    expect(Object.keys(report)).to.include.members(['campaign', 'totals', 'bySteps', 'byChannel', 'byVariant', 'skipReasons', 'daily', 'funnel', 'channels', 'variants', 'segments', 'attribution', 'guardEvents', 'postMetrics', 'nextActions']);
    const database = (await ctx.db('messages').where({ campaign_id: campaignId }).select(
      ctx.db.raw('count(*)::int AS messages'),
      ctx.db.raw(`count(*) FILTER (WHERE status = 'SENT_PROOF')::int AS sent_proof`),
      ctx.db.raw(`count(*) FILTER (WHERE status = 'UNKNOWN')::int AS unknown`),
    )) as Array<{ messages: number; sent_proof: number; unknown: number }>;
    expect(report.totals).to.include({ leads: 12, messages: database[0]?.messages, sentProof: database[0]?.sent_proof, unknown: database[0]?.unknown });
    const replies = (await ctx.db('contact_events').where({ campaign_id: campaignId, type: 'replied' }).count('* as count').first()) as { count: number };
    const sum = (rows: ReadonlyArray<{ sent: number; replied: number }>, key: 'sent' | 'replied') => rows.reduce((total, row) => total + row[key], 0);
    for (const [name, rows] of Object.entries({ daily: report.daily, funnel: report.funnel, channels: report.channels, variants: report.variants, segments: report.segments })) {
      expect([sum(rows, 'sent'), sum(rows, 'replied')], name).to.deep.equal([report.totals.sentProof, replies.count]);
    }
    const variantA = report.variants.find((row) => row.variant === 'A');
    expect(variantA).to.include({ step: 1, angle: 'pain-point', selection: 'weighted', replied: 4 });
    expect(variantA?.replyRate.rate).to.equal(4 / (variantA?.sent ?? 1));
    expect(report.segments.map((row) => [row.segment, row.leads])).to.have.deep.members([
      ['enterprise', 4],
      ['smb', 4],
      ['(none)', 4],
    ]);
    expect(report.attribution.bySource).to.deep.equal([
      { source: '<script>alert(1)</script>', leads: 6, replied: report.attribution.bySource[0]?.replied, bouncedHard: report.attribution.bySource[0]?.bouncedHard, bouncedSoft: 0, complained: 0, unsubscribed: 0 },
      { source: 'form (spring-fair)', leads: 6, replied: report.attribution.bySource[1]?.replied, bouncedHard: report.attribution.bySource[1]?.bouncedHard, bouncedSoft: 0, complained: 0, unsubscribed: 0 },
    ]);
    expect(report.attribution.bySource.reduce((total, row) => total + row.replied, 0)).to.equal(4);
    expect(report.attribution.byUtm.map((row) => [row.utmSource, row.utmCampaign, row.leads])).to.deep.equal([
      ['linkedin', 'q4', 6],
      ['newsletter', 'q4', 6],
    ]);
    expect(report.attribution.firstTouch).to.deep.equal([{ channel: 'email', leads: 11 }]);
    expect(report.guardEvents).to.deep.equal([]);
    expect(report.postMetrics).to.deep.equal([]);
    expect(report.nextActions[0]).to.equal(`The campaign is paused (by cli); resume it with \`drumbeat campaign resume ${campaignId}\` when ready.`);
    expect(report.nextActions[1]).to.match(/^1 message\(s\) are UNKNOWN .*drumbeat messages unknown --campaign \d+/);
    expect(report.nextActions[2]).to.match(/^Step 1: variant A \(4 replies of \d sends, \d+\.\d%, 95% interval .*\) leads B \(0 replies of \d sends/);
  });

  it('prints it in every format: an offline HTML page with its SVG charts and escaped values, Markdown, CSV that parses and JSON', async () => {
    const campaignId = await campaignWithOutcomes();
    const [html, markdown, csv, json] = await Promise.all(['html', 'md', 'csv', 'json'].map((format) => runDrumbeat(['report', String(campaignId), '--format', format])));
    expect(html?.code, html?.stderr).to.equal(0);
    const page = html?.stdout ?? '';
    expect(page).to.match(/^<!doctype html>/);
    expect(page.match(/<svg role="img"/g)).to.have.length(3);
    for (const title of ['Daily sends, replies and bounces', 'Step funnel: sent, delivered, opened and replied per step', 'Reply rate per variant, with 95% intervals']) {
      expect(page).to.include(`<title>${title}</title>`);
    }
    expect(page, 'self-contained: no external URL, no script').not.to.match(/https?:|<script|src=|<link/i);
    expect(page).to.include('Campaign report: Q4 AT&amp;T &lt;Labs&gt;').and.include('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).to.include('<h2>Guard events</h2>\n<p class="none">none</p>').and.include('<h2>Post metrics</h2>\n<p class="none">none</p>');

    expect(markdown?.stdout).to.include('## Next actions\n\n- The campaign is paused (by cli)').and.include('## Guard events\n\nnone\n').and.include('## Variants');
    const rows = parseCsv(csv?.stdout ?? '', { columns: true }) as Array<Record<string, string>>;
    expect(rows.find((row) => row.scope === 'total')?.messages).to.equal('12');
    expect(rows.filter((row) => row.scope === 'variant').map((row) => [row.variant, row.angle, row.replied])).to.deep.include(['A', 'pain-point', '4']);
    expect(rows.filter((row) => row.scope === 'next-action')).to.have.length.of.at.least(3);
    expect(rows.find((row) => row.scope === 'source' && row.source === '<script>alert(1)</script>')?.leads).to.equal('6');
    const parsed = JSON.parse(json?.stdout ?? '') as CampaignReport;
    expect(parsed.totals.messages).to.equal(12);
    expect(parsed.guardEvents).to.deep.equal([]);
  });
});
