import type { Knex } from 'knex';
import { guardEventsForCampaign, type GuardReportEvent } from './guard-report.js';
import { postMetricsForCampaign, type PostMetricsOfPost } from './post-metrics-report.js';
import type { Campaign, CampaignStep } from '../campaigns/campaign-store.js';
import { campaignFacts, METRIC_COUNTERS, NONE_LABEL, OUTCOME_EVENT_TYPES, sentAtSql, type MetricCounter, type MetricFact } from './metrics-facts.js';
import { percent, wilsonInterval, type RateInterval } from './wilson-interval.js';
import { NO_SEGMENT } from '../segments/segment-rules.js';

/**
 * The sections of a campaign report that say what works: what messages and events counted per
 * day, step, channel, variant and segment (the metrics rollup's own definition, counted live),
 * attribution, and the next actions. Replies are reply events; a reply rate is replies over
 * messages sent (at most one reply per send), with its 95 % Wilson interval.
 */

/** What went out and what came back. */
export interface OutcomeCounts {
  sent: number;
  sentProof: number;
  failed: number;
  skipped: number;
  delivered: number;
  opened: number;
  clicked: number;
  replied: number;
  bouncedHard: number;
  bouncedSoft: number;
  complained: number;
  unsubscribed: number;
}

const outcomeKeyOf = {
  sent: 'sent',
  sent_proof: 'sentProof',
  failed: 'failed',
  skipped: 'skipped',
  delivered: 'delivered',
  opened: 'opened',
  clicked: 'clicked',
  replied: 'replied',
  bounced_hard: 'bouncedHard',
  bounced_soft: 'bouncedSoft',
  complained: 'complained',
  unsubscribed: 'unsubscribed',
} as const satisfies Record<MetricCounter, keyof OutcomeCounts>;

/** The outcome counters in the order of a message's life. */
export const OUTCOME_KEYS: ReadonlyArray<keyof OutcomeCounts> = METRIC_COUNTERS.map((counter) => outcomeKeyOf[counter]);

export interface DailyOutcome extends OutcomeCounts {
  day: string;
}
export interface StepOutcome extends OutcomeCounts {
  step: number;
  channel: string;
  replyRate: RateInterval;
}
export interface ChannelOutcome extends OutcomeCounts {
  channel: string;
  replyRate: RateInterval;
}
export interface VariantOutcome extends OutcomeCounts {
  step: number;
  variant: string;
  angle: string | null;
  /** How the step chose between its variants. */
  selection: string;
  replyRate: RateInterval;
}
export interface SegmentOutcome extends OutcomeCounts {
  segment: string;
  leads: number;
  replyRate: RateInterval;
}

/** Outcomes credited to where leads came from. */
export interface SourceOutcome {
  leads: number;
  replied: number;
  bouncedHard: number;
  bouncedSoft: number;
  complained: number;
  unsubscribed: number;
}

const sourceKeys = ['leads', 'replied', 'bouncedHard', 'bouncedSoft', 'complained', 'unsubscribed'] as const satisfies ReadonlyArray<keyof SourceOutcome>;
export interface Attribution {
  /** By the lead's source: `import (batch 3)`, `form (spring-fair)`, `api`… */
  bySource: Array<{ source: string } & SourceOutcome>;
  byUtm: Array<{ utmSource: string; utmCampaign: string } & SourceOutcome>;
  /** Leads by the channel of the first and of the last message sent to them. */
  firstTouch: Array<{ channel: string; leads: number }>;
  lastTouch: Array<{ channel: string; leads: number }>;
}

/** What the deliverability guard did to this campaign and why. */
export interface GuardEvent {
  at: string;
  summary: string;
}

/** A published post's engagement as its platform last reported it (`drumbeat metrics fetch`). */
export interface PostMetric {
  post: string;
  platform: string;
  day: string;
  metrics: Record<string, number>;
}

export interface LearningSections {
  daily: DailyOutcome[];
  funnel: StepOutcome[];
  channels: ChannelOutcome[];
  variants: VariantOutcome[];
  segments: SegmentOutcome[];
  attribution: Attribution;
  guardEvents: GuardEvent[];
  postMetrics: PostMetric[];
}

function zeroCounts(): OutcomeCounts {
  return Object.fromEntries(OUTCOME_KEYS.map((key) => [key, 0])) as unknown as OutcomeCounts;
}

/** Sums facts by a key, in first-seen order of the key. */
function sumBy(facts: readonly MetricFact[], keyOf: (fact: MetricFact) => string | undefined): Map<string, OutcomeCounts> {
  const sums = new Map<string, OutcomeCounts>();
  for (const fact of facts) {
    const key = keyOf(fact);
    if (key === undefined) continue;
    const counts = sums.get(key) ?? zeroCounts();
    for (const counter of METRIC_COUNTERS) counts[outcomeKeyOf[counter]] += fact[counter];
    sums.set(key, counts);
  }
  return sums;
}

const replyRateOf = (counts: OutcomeCounts): RateInterval => wilsonInterval(counts.replied, counts.sent);

async function attributionOf(db: Knex, campaignId: number): Promise<Attribution> {
  const { rows } = await db.raw<{ rows: Array<{ source: string; utm_source: string; utm_campaign: string } & SourceOutcome> }>(
    `SELECT coalesce(l.source, '(unknown)') ||
              CASE WHEN cl.import_batch_id IS NOT NULL THEN ' (batch ' || cl.import_batch_id || ')'
                   WHEN l.source_ref IS NOT NULL THEN ' (' || l.source_ref || ')' ELSE '' END AS source,
            coalesce(l.utm_source, '(none)') AS utm_source, coalesce(l.utm_campaign, '(none)') AS utm_campaign,
            count(DISTINCT cl.lead_id)::int AS leads,
            count(e.id) FILTER (WHERE e.type = 'replied')::int AS replied,
            count(e.id) FILTER (WHERE e.type = 'bounced_hard')::int AS "bouncedHard",
            count(e.id) FILTER (WHERE e.type = 'bounced_soft')::int AS "bouncedSoft",
            count(e.id) FILTER (WHERE e.type = 'complained')::int AS complained,
            count(e.id) FILTER (WHERE e.type = 'unsubscribed')::int AS unsubscribed
       FROM campaign_leads cl
       JOIN leads l ON l.id = cl.lead_id
       LEFT JOIN contact_events e ON e.campaign_id = cl.campaign_id AND e.lead_id = cl.lead_id
                                 AND e.type IN (${OUTCOME_EVENT_TYPES.map((type) => `'${type}'`).join(', ')})
      WHERE cl.campaign_id = ?
      GROUP BY 1, 2, 3
      ORDER BY 1, 2, 3`,
    [campaignId],
  );
  const merge = <K extends string>(keyOf: (row: (typeof rows)[number]) => K) => {
    const merged = new Map<K, SourceOutcome>();
    for (const row of rows) {
      const sum = merged.get(keyOf(row)) ?? { leads: 0, replied: 0, bouncedHard: 0, bouncedSoft: 0, complained: 0, unsubscribed: 0 };
      for (const key of sourceKeys) sum[key] += row[key];
      merged.set(keyOf(row), sum);
    }
    return merged;
  };
  const touches = async (order: 'ASC' | 'DESC') => {
    const found = await db.raw<{ rows: Array<{ channel: string; leads: number }> }>(
      `SELECT channel, count(*)::int AS leads FROM (
         SELECT DISTINCT ON (m.lead_id) m.channel FROM messages m
          WHERE m.campaign_id = ? AND m.status IN ('SENT', 'SENT_PROOF')
          ORDER BY m.lead_id, ${sentAtSql('m')} ${order}, m.id ${order}) touch
        GROUP BY channel ORDER BY leads DESC, channel`,
      [campaignId],
    );
    return found.rows;
  };
  return {
    bySource: [...merge((row) => row.source)].map(([source, sum]) => ({ source, ...sum })),
    byUtm: [...merge((row) => `${row.utm_source}\u0000${row.utm_campaign}`)].map(([key, sum]) => {
      const [utmSource = '', utmCampaign = ''] = key.split('\u0000');
      return { utmSource, utmCampaign, ...sum };
    }),
    firstTouch: await touches('ASC'),
    lastTouch: await touches('DESC'),
  };
}

/** Counts every learning section of a campaign's report from the record (one pass over its messages and events). */
export async function learningSections(db: Knex, campaignId: number, steps: readonly CampaignStep[]): Promise<LearningSections> {
  const facts = await campaignFacts(db, campaignId);
  const daily = [...sumBy(facts, (fact) => fact.day)].map(([day, counts]) => ({ day, ...counts })).sort((a, b) => a.day.localeCompare(b.day));
  const bySteps = sumBy(facts, (fact) => (fact.step_index < 0 ? undefined : String(fact.step_index)));
  const byChannel = sumBy(facts, (fact) => (fact.channel === NONE_LABEL ? undefined : fact.channel));
  const byVariant = sumBy(facts, (fact) => (fact.variant === NONE_LABEL || fact.step_index < 0 ? undefined : `${fact.step_index}\u0000${fact.variant}`));
  const bySegment = sumBy(facts, (fact) => fact.segment);
  const leadsBySegment = (await db('campaign_leads')
    .where({ campaign_id: campaignId })
    .groupBy('segment')
    .select(db.raw(`coalesce(segment, '${NO_SEGMENT}') AS segment`), db.raw('count(*)::int AS leads'))) as Array<{ segment: string; leads: number }>;
  for (const row of leadsBySegment) if (!bySegment.has(row.segment)) bySegment.set(row.segment, zeroCounts());

  return {
    daily,
    funnel: steps.map((step) => {
      const counts = bySteps.get(String(step.stepIndex)) ?? zeroCounts();
      return { step: step.stepIndex + 1, channel: step.channel, ...counts, replyRate: replyRateOf(counts) };
    }),
    channels: [...byChannel].map(([channel, counts]) => ({ channel, ...counts, replyRate: replyRateOf(counts) })),
    variants: steps.flatMap((step) =>
      (step.variants ?? []).map((variant) => {
        const counts = byVariant.get(`${step.stepIndex}\u0000${variant.name}`) ?? zeroCounts();
        return { step: step.stepIndex + 1, variant: variant.name, angle: variant.angle, selection: step.variantSelection, ...counts, replyRate: replyRateOf(counts) };
      }),
    ),
    segments: [...bySegment]
      .map(([segment, counts]) => ({ segment, leads: leadsBySegment.find((row) => row.segment === segment)?.leads ?? 0, ...counts, replyRate: replyRateOf(counts) }))
      .sort((a, b) => b.leads - a.leads || a.segment.localeCompare(b.segment)),
    attribution: await attributionOf(db, campaignId),
    guardEvents: (await guardEventsForCampaign(db, campaignId)).map(guardEventLine),
    postMetrics: (await postMetricsForCampaign(db, campaignId)).posts.map(postMetricLine),
  };
}

/** A pause by the deliverability guard, as one sentence. */
function guardEventLine(event: GuardReportEvent): GuardEvent {
  const what = event.kind === 'hard_bounce' ? 'hard bounces' : 'complaints';
  return {
    at: event.occurredAt,
    summary: `paused by the deliverability guard: ${event.count} ${what} in ${event.sends} sends (${percent(event.rate)}) over 7 days exceeds ${percent(event.threshold)}`,
  };
}

/** A post's latest reading from its platform, with only the figures the platform gives. */
function postMetricLine(post: PostMetricsOfPost): PostMetric {
  const figures = { impressions: post.impressions, likes: post.likes, reposts: post.reposts, replies: post.replies, clicks: post.clicks, saves: post.saves };
  const metrics = Object.fromEntries(Object.entries(figures).filter((entry): entry is [string, number] => entry[1] !== null));
  const label = `post ${post.postIndex + 1}${post.externalId === null ? '' : ` (${post.externalId})`}${post.status === 'DELETED' ? ', deleted on the platform' : ''}`;
  return { post: label, platform: post.platform, day: post.day, metrics };
}

/** What the next actions read beside the sections: the campaign and its message counts. */
export interface NextActionInputs {
  campaign: Pick<Campaign, 'id' | 'status' | 'pauseReason' | 'pausedBy'>;
  totals: { unknown: number; dead: number; pendingReview: number };
  variants: readonly VariantOutcome[];
}

/** "A of step 1: 12 replies of 80 sends (15.0%, 95% interval 8.9%–24.4%)". */
function variantWords(variant: VariantOutcome): string {
  return `${variant.variant} (${variant.replied} repl${variant.replied === 1 ? 'y' : 'ies'} of ${variant.sent} send${variant.sent === 1 ? '' : 's'}, ${percent(variant.replyRate.rate)}, 95% interval ${percent(variant.replyRate.low)}–${percent(variant.replyRate.high)})`;
}

/** The variant that leads each step that has replies, in a sentence: clear when its interval is above every other's. */
function leadingVariants(variants: readonly VariantOutcome[]): string[] {
  const steps = [...new Set(variants.map((variant) => variant.step))];
  return steps.flatMap((step) => {
    const ofStep = variants.filter((variant) => variant.step === step && variant.sent > 0).sort((a, b) => b.replyRate.rate - a.replyRate.rate || b.sent - a.sent);
    const [best, ...others] = ofStep;
    if (best === undefined || others.length === 0 || best.replied === 0) return [];
    const clear = others.every((other) => best.replyRate.low > other.replyRate.high);
    const verdict = clear ? 'it leads clearly: consider giving it all the sends' : 'not yet conclusive: keep sending before you decide';
    return [`Step ${step}: variant ${variantWords(best)} leads ${others.map(variantWords).join(', ')}; ${verdict}.`];
  });
}

/** Plain sentences computed from the data: what an operator should do next, most urgent first. */
export function nextActions({ campaign, totals, variants }: NextActionInputs): string[] {
  const id = campaign.id;
  const actions: string[] = [];
  if (campaign.status === 'PAUSED') {
    actions.push(
      campaign.pauseReason === null
        ? `The campaign is paused (by ${campaign.pausedBy ?? 'an operator'}); resume it with \`drumbeat campaign resume ${id}\` when ready.`
        : `The campaign was paused by drumbeat: ${campaign.pauseReason}. Fix that, then \`drumbeat campaign resume ${id}\`.`,
    );
  }
  if (totals.unknown > 0) {
    actions.push(
      `${totals.unknown} message(s) are UNKNOWN (they may or may not have gone out): check with the provider, then \`drumbeat messages resolve <id…> --as sent|failed|resend\` (\`drumbeat messages unknown --campaign ${id}\` lists them).`,
    );
  }
  if (totals.pendingReview > 0) actions.push(`${totals.pendingReview} message(s) wait for review: \`drumbeat review list --campaign ${id}\`.`);
  if (totals.dead > 0) {
    actions.push(`${totals.dead} message(s) are DEAD: \`drumbeat messages dead --campaign ${id}\` says why; fix the cause, then \`drumbeat messages retry --campaign ${id} --all\`.`);
  }
  actions.push(...leadingVariants(variants));
  return actions.length === 0 ? ['Nothing needs you now.'] : actions;
}
