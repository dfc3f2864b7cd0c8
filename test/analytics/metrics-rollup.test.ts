import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import type { NewLead } from '../../src/leads/lead-store.js';
import { metricsRollupQueue } from '../../queues/metrics-rollup.js';
import { eventually, freshEngineWithClock, runDrumbeat, seedCampaign, statusCounts } from '../support/engine.js';
import { applyFeedback, defineCompanySegments, sentMessages } from './learning-support.js';

const zone = 'America/New_York';
const counters = ['sent', 'sent_proof', 'failed', 'skipped', 'delivered', 'opened', 'clicked', 'replied', 'bounced_hard', 'bounced_soft', 'complained', 'unsubscribed'];

/** Twelve leads: four at corporations, four at tiny firms, four elsewhere. */
function companyLeads(): NewLead[] {
  const companies = ['Big Corp', 'Tiny', 'Other'];
  return Array.from({ length: 12 }, (_, index) => ({ email: `buyer-${index}@example.com`, firstName: `B${index}`, linkedinId: `li-buyer-${index}`, company: companies[index % 3] as string }));
}

type Row = Record<string, string | number>;

/** Rows as comparable strings, counters as numbers, sorted. */
function normalised(rows: Row[], keys: string[]): string[] {
  return rows
    .map((row) => JSON.stringify([...keys.map((key) => String(row[key])), ...counters.map((counter) => Number(row[counter] ?? 0))]))
    .filter((line) => !line.endsWith(`${counters.map(() => '0').join(',')}]`))
    .sort();
}

/**
 * The same counts taken straight from messages and the lead timeline, written apart from the
 * rollup: a message counts on the local day it went out (sent) or was planned (failed, skipped);
 * an event on the day it occurred, for the message it names or else the last one sent to its lead.
 */
async function straightCounts(ctx: AppContext, campaignId: number, group: string[]): Promise<Row[]> {
  const { rows } = await ctx.db.raw<{ rows: Row[] }>(
    `WITH msg AS (
       SELECT m.channel, m.step_index, coalesce(m.variant, '(none)') AS variant, coalesce(cl.segment, '(none)') AS segment,
              (CASE WHEN m.status IN ('SENT','SENT_PROOF') THEN coalesce(m.sent_at, m.sending_at) ELSE m.created_at END AT TIME ZONE ?)::date::text AS day,
              m.status
         FROM messages m JOIN campaign_leads cl ON cl.id = m.enrollment_id WHERE m.campaign_id = ?
     ), evt AS (
       SELECT coalesce(t.channel, '(none)') AS channel, coalesce(t.step_index, -1) AS step_index, coalesce(t.variant, '(none)') AS variant,
              coalesce(cl.segment, '(none)') AS segment, (e.occurred_at AT TIME ZONE ?)::date::text AS day, e.type
         FROM contact_events e
         JOIN campaign_leads cl ON cl.campaign_id = e.campaign_id AND cl.lead_id = e.lead_id
         LEFT JOIN messages t ON t.id = coalesce(e.message_id, (SELECT id FROM messages x WHERE x.campaign_id = e.campaign_id AND x.lead_id = e.lead_id
                                                                   AND x.status IN ('SENT','SENT_PROOF') AND x.sent_at <= e.occurred_at
                                                                 ORDER BY x.sent_at DESC LIMIT 1))
        WHERE e.campaign_id = ?
     )
     SELECT ${group.join(', ')},
            sum(sent)::int AS sent, sum(sent_proof)::int AS sent_proof, sum(failed)::int AS failed, sum(skipped)::int AS skipped,
            ${counters.slice(4).map((counter) => `sum(${counter})::int AS ${counter}`).join(', ')}
       FROM (
         SELECT ${group.join(', ')}, (status IN ('SENT','SENT_PROOF'))::int AS sent, (status = 'SENT_PROOF')::int AS sent_proof,
                (status = 'DEAD')::int AS failed, (status = 'SKIPPED')::int AS skipped, ${counters.slice(4).map((counter) => `0 AS ${counter}`).join(', ')}
           FROM msg
         UNION ALL
         SELECT ${group.join(', ')}, 0, 0, 0, 0, ${counters.slice(4).map((counter) => `(type = '${counter}')::int`).join(', ')} FROM evt
       ) counted
      GROUP BY ${group.join(', ')}`,
    [zone, campaignId, zone, campaignId],
  );
  return rows;
}

async function rolledUp(ctx: AppContext, table: string, campaignId: number, keys: string[]): Promise<Row[]> {
  return (await ctx.db(table)
    .where({ campaign_id: campaignId })
    .select(...keys.map((key) => (key === 'day' ? ctx.db.raw('day::text AS day') : key)), ...counters)) as Row[];
}

describe('metrics rollup', function () {
  this.timeout(60_000);
  const engine = freshEngineWithClock();
  const { clock } = engine;
  let ctx: AppContext;
  beforeEach(() => (ctx = engine.ctx));

  /** Every rolled-up table equals the counts taken straight from the record. */
  async function expectRollupMatchesRecord(campaignId: number): Promise<void> {
    expect(normalised(await rolledUp(ctx, 'campaign_metrics', campaignId, ['day']), ['day']), 'campaign_metrics').to.deep.equal(
      normalised(await straightCounts(ctx, campaignId, ['day']), ['day']),
    );
    // An event that follows no message counts for its campaign and day only.
    const channels = (await straightCounts(ctx, campaignId, ['channel', 'day'])).filter((row) => row.channel !== '(none)');
    expect(normalised(await rolledUp(ctx, 'channel_metrics', campaignId, ['channel', 'day']), ['channel', 'day']), 'channel_metrics').to.deep.equal(
      normalised(channels, ['channel', 'day']),
    );
    const variantKeys = ['step_index', 'variant', 'segment'];
    const variants = (await straightCounts(ctx, campaignId, variantKeys)).filter((row) => Number(row.step_index) >= 0);
    expect(normalised(await rolledUp(ctx, 'variant_stats', campaignId, variantKeys), variantKeys), 'variant_stats').to.deep.equal(normalised(variants, variantKeys));
  }

  /** A two-step campaign (email with two variants, then LinkedIn) sent to twelve leads in three segments. */
  async function sentCampaign(): Promise<number> {
    await defineCompanySegments(ctx);
    const { campaignId } = await seedCampaign(ctx, {
      leads: companyLeads(),
      spec: {
        timezone: zone,
        segments: ['enterprise', 'smb'],
        steps: [
          {
            channel: 'email',
            delay: '0s',
            variants: [
              { name: 'A', subject: 'A for <%= it.lead.firstName %>', body: 'Pain', angle: 'pain-point' },
              { name: 'B', subject: 'B for <%= it.lead.firstName %>', body: 'Proof', angle: 'social-proof' },
            ],
          },
          { channel: 'linkedin', delay: '0s', body: 'Hello again' },
        ],
      },
    });
    await engine.startWorkers();
    await ctx.ticks.runTick(campaignId, clock.now());
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 12, 'twelve first-step sends');
    clock.advance(1000);
    await ctx.ticks.runTick(campaignId, clock.now());
    await eventually(async () => (await statusCounts(ctx, campaignId)).SENT_PROOF === 24, 'twelve second-step sends');
    return campaignId;
  }

  it('labels each lead with the first segment it matches, and rolls up per day, channel, step, variant and segment what the record says', async () => {
    const campaignId = await sentCampaign();
    const segments = (await ctx.db('campaign_leads as cl')
      .join('leads as l', 'l.id', 'cl.lead_id')
      .where('cl.campaign_id', campaignId)
      .select('l.company', 'cl.segment')) as Array<{ company: string; segment: string | null }>;
    expect(new Set(segments.map((row) => `${row.company}: ${row.segment}`))).to.deep.equal(new Set(['Big Corp: enterprise', 'Tiny: smb', 'Other: null']));

    const sent = await sentMessages(ctx, campaignId);
    const firstStep = sent.filter((message) => message.step_index === 0);
    const now = clock.now();
    const yesterday = new Date(now.getTime() - 86_400_000);
    await applyFeedback(ctx, [
      ...firstStep.map((message) => ({ type: 'delivered' as const, externalId: message.external_id, occurredAt: now })),
      ...firstStep.slice(0, 5).map((message) => ({ type: 'opened' as const, externalId: message.external_id, occurredAt: now })),
      { type: 'clicked', externalId: firstStep[0]?.external_id, occurredAt: now },
      ...firstStep.slice(0, 3).map((message) => ({ type: 'replied' as const, externalId: message.external_id, occurredAt: now })),
      { type: 'bounced', bounce: 'hard', externalId: firstStep[4]?.external_id, occurredAt: now },
      { type: 'bounced', bounce: 'soft', externalId: firstStep[5]?.external_id, occurredAt: now },
      // Without a message reference: credited to the lead's last message sent, on yesterday's date.
      { type: 'unsubscribed', email: firstStep[6]?.email, campaignId, occurredAt: yesterday },
      { type: 'complained', email: firstStep[7]?.email, campaignId, occurredAt: now },
    ]);
    // One message DEAD, for the failed counter.
    await ctx.db('messages').where({ id: sent[sent.length - 1]?.id }).update({ status: 'DEAD' });

    const first = await ctx.rollup.run();
    expect(first.mode).to.equal('full');
    await expectRollupMatchesRecord(campaignId);
    const totals = (await ctx.db('campaign_metrics').where({ campaign_id: campaignId }).sum({ sent: 'sent', replied: 'replied', unsubscribed: 'unsubscribed' }).first()) as Record<string, number>;
    expect(totals).to.deep.equal({ sent: 23, replied: 3, unsubscribed: 1 });
    const variants = (await ctx.db('variant_stats').where({ campaign_id: campaignId, step_index: 0 }).select('variant', 'segment', 'angle', 'sent')) as Row[];
    expect(variants.filter((row) => row.variant === 'A').every((row) => row.angle === 'pain-point')).to.equal(true);
    expect(variants.reduce((sum, row) => sum + Number(row.sent), 0)).to.equal(12);
    expect(new Set(variants.map((row) => row.segment))).to.deep.equal(new Set(['enterprise', 'smb', '(none)']));

    const attributions = (await ctx.db('attributions').where({ campaign_id: campaignId }).groupBy('touch').select('touch').count('* as count')) as Array<{ touch: string; count: number }>;
    expect(Object.fromEntries(attributions.map((row) => [row.touch, row.count]))).to.deep.equal({ FIRST: 12, LAST: 12, OUTCOME: 7 });
    const lastTouch = (await ctx.db('attributions').where({ campaign_id: campaignId, touch: 'LAST' }).distinct('channel').pluck('channel')) as string[];
    expect(lastTouch.sort()).to.deep.equal(['email', 'linkedin'], 'the lead whose LinkedIn message died last heard from email');
  });

  it('gives the same rows again when two runs overlap after more events, recomputing only what changed', async () => {
    const campaignId = await sentCampaign();
    await ctx.rollup.run();
    const sent = await sentMessages(ctx, campaignId);
    const tomorrow = new Date(clock.now().getTime() + 86_400_000);
    await applyFeedback(
      ctx,
      sent.slice(0, 4).map((message) => ({ type: 'replied' as const, externalId: message.external_id, occurredAt: tomorrow })),
    );
    const runs = await Promise.all([ctx.rollup.run(), ctx.rollup.run()]);
    expect(runs.map((run) => run.mode)).to.deep.equal(['incremental', 'incremental']);
    expect(Math.max(...runs.map((run) => run.campaignDays)), 'only the changed days').to.be.at.most(3);
    await expectRollupMatchesRecord(campaignId);
    const replies = (await ctx.db('attributions').where({ campaign_id: campaignId, touch: 'OUTCOME', outcome: 'replied' }).count('* as count').first()) as { count: number };
    expect(replies.count, 'one attribution per reply, however many runs').to.equal(4);
    const again = await ctx.rollup.run();
    expect(again.campaignDays, 'nothing changed since').to.equal(0);
    await expectRollupMatchesRecord(campaignId);
  });

  it('leaves columns it does not own alone, and zeroes counts that went away', async () => {
    const campaignId = await sentCampaign();
    await ctx.db.raw('ALTER TABLE channel_metrics ADD COLUMN post_likes integer NOT NULL DEFAULT 0');
    try {
      await ctx.rollup.run();
      await ctx.db('channel_metrics').where({ campaign_id: campaignId, channel: 'linkedin' }).update({ post_likes: 7 });
      await ctx.db('messages').where({ campaign_id: campaignId, channel: 'linkedin' }).update({ status: 'DEAD' });
      await ctx.rollup.run();
      const linkedin = (await ctx.db('channel_metrics').where({ campaign_id: campaignId, channel: 'linkedin' }).first('sent', 'failed', 'post_likes')) as Row;
      expect(linkedin).to.deep.equal({ sent: 0, failed: 12, post_likes: 7 });
      await expectRollupMatchesRecord(campaignId);
    } finally {
      await ctx.db.raw('ALTER TABLE channel_metrics DROP COLUMN post_likes');
    }
  });

  it('is queued once when a campaign completes and run by a worker, and the CLI recomputes a campaign now and says what it did', async () => {
    const campaignId = await sentCampaign();
    let outcome = '';
    for (let tick = 0; tick < 3 && outcome !== 'completed'; tick += 1) {
      clock.advance(1000);
      outcome = (await ctx.ticks.runTick(campaignId, clock.now())).outcome;
    }
    expect(outcome).to.equal('completed');
    // The worker runs it: the campaign recomputed whole.
    const done = await eventually(async () => {
      const jobs = await ctx.queues.get(metricsRollupQueue).getJobs(['completed']);
      return jobs.find((job) => (job.data as { campaignId?: number }).campaignId === campaignId);
    }, 'the completed campaign\'s rollup job to run');
    expect(done.returnvalue).to.include({ mode: 'campaign', campaigns: 1 });
    expect((await ctx.queues.get(metricsRollupQueue).getJobs(['completed', 'waiting', 'active', 'delayed'])).length, 'queued once').to.equal(1);

    const whole = await runDrumbeat(['metrics', 'rollup', '--campaign', String(campaignId)]);
    expect(whole.code, whole.stderr).to.equal(0);
    expect(whole.stdout).to.match(/^metrics rollup, campaign recomputed whole \(\d+ day\(s\)\): \d+ fact row\(s\); campaign_metrics \d+, channel_metrics \d+, variant_stats \d+ row\(s\) written/);
    await expectRollupMatchesRecord(campaignId);
  });
});
