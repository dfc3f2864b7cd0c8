import type { Knex } from 'knex';
import { loadCampaignDefinition } from '../campaigns/campaign-definition.js';
import { NotFoundError } from '../core/domain-error.js';
import { csvCell } from '../leads/lead-export.js';
import { MESSAGE_STATUSES, type MessageStatus } from '../messages/message-lifecycle.js';
import { percent, type RateInterval } from './wilson-interval.js';
import { learningSections, nextActions, OUTCOME_KEYS, type LearningSections, type OutcomeCounts, type SourceOutcome } from './report-sections.js';

/**
 * The report's key for each message status. Every status must have one (the type says so), so
 * the counts always sum to `messages`.
 */
const counterOf = {
  PLANNED: 'planned',
  PENDING_REVIEW: 'pendingReview',
  REJECTED: 'rejected',
  QUEUED: 'queued',
  SENDING: 'sending',
  SENT: 'sent',
  SENT_PROOF: 'sentProof',
  FAILED: 'failed',
  DEAD: 'dead',
  SKIPPED: 'skipped',
  UNKNOWN: 'unknown',
} as const satisfies Record<MessageStatus, string>;

type MessageCounter = (typeof counterOf)[MessageStatus];

/** The counters in the order of a message's life. */
const messageCounters: readonly MessageCounter[] = MESSAGE_STATUSES.map((status) => counterOf[status]);

const enrollmentCounters = {
  replied: 'REPLIED',
  bounced: 'BOUNCED',
  unsubscribed: 'UNSUBSCRIBED',
  completed: 'COMPLETED',
} as const;

type MessageCounts = { messages: number } & Record<MessageCounter, number>;

/**
 * A campaign's report. The first keys (`campaign`, `totals`, `bySteps`, `byChannel`,
 * `byVariant`, `skipReasons`) count messages by status and keep their shape; the learning
 * sections beside them (`daily`, `funnel`, `channels`, `variants`, `segments`, `attribution`,
 * `guardEvents`, `postMetrics`) count what went out and came back, and `nextActions` says what
 * to do about it.
 */
export interface CampaignReport extends LearningSections {
  /** `pauseReason`: why drumbeat paused it (a fault that is not a lead's); null otherwise. */
  campaign: { id: number; name: string; status: string; mode: string; pauseReason: string | null };
  /** Leads, messages with a count for every status (they sum to `messages`), and how enrollments ended. */
  totals: { leads: number } & MessageCounts & Record<keyof typeof enrollmentCounters, number>;
  /** The same message counts per step (1-based) and per channel. */
  bySteps: Array<{ step: number; channel: string } & MessageCounts>;
  byChannel: Array<{ channel: string } & MessageCounts>;
  /** A/B variants per step: what each variant's messages became, and how many of its leads replied. */
  byVariant: VariantCounts[];
  /** Why messages were SKIPPED, most frequent first; reasons that differ only after their first ':' count together. */
  skipReasons: SkipReasonCount[];
  /** Plain sentences computed from the data: what to do next (always at least one). */
  nextActions: string[];
}

export interface SkipReasonCount {
  reason: string;
  count: number;
}

/**
 * SKIPPED messages by reason. A reason's text after its first ':' is the case at hand (the
 * suppression, the placeholder excerpt, the render error), so reasons are grouped by what
 * comes before it.
 */
async function skipReasonCounts(db: Knex, campaignId: number): Promise<SkipReasonCount[]> {
  const { rows } = await db.raw<{ rows: SkipReasonCount[] }>(
    `SELECT coalesce(nullif(trim(split_part(skip_reason, ':', 1)), ''), '(no reason recorded)') AS reason, count(*)::int AS count
       FROM messages
      WHERE campaign_id = ? AND status = 'SKIPPED'
      GROUP BY 1
      ORDER BY 2 DESC, 1`,
    [campaignId],
  );
  return rows;
}

export interface VariantCounts {
  step: number;
  variant: string;
  messages: number;
  queued: number;
  sent: number;
  sentProof: number;
  skipped: number;
  pendingReview: number;
  rejected: number;
  replied: number;
}

async function variantCounts(db: Knex, campaignId: number): Promise<VariantCounts[]> {
  const rows = (await db('messages as m')
    .join('campaign_leads as cl', 'cl.id', 'm.enrollment_id')
    .where('m.campaign_id', campaignId)
    .whereNotNull('m.variant')
    .groupBy('m.step_index', 'm.variant')
    .orderBy(['m.step_index', 'm.variant'])
    .select(
      'm.step_index',
      'm.variant',
      db.raw('count(*)::int AS messages'),
      db.raw(`count(*) FILTER (WHERE m.status = 'QUEUED')::int AS queued`),
      db.raw(`count(*) FILTER (WHERE m.status = 'SENT')::int AS sent`),
      db.raw(`count(*) FILTER (WHERE m.status = 'SENT_PROOF')::int AS sent_proof`),
      db.raw(`count(*) FILTER (WHERE m.status = 'SKIPPED')::int AS skipped`),
      db.raw(`count(*) FILTER (WHERE m.status = 'PENDING_REVIEW')::int AS pending_review`),
      db.raw(`count(*) FILTER (WHERE m.status = 'REJECTED')::int AS rejected`),
      db.raw(`count(*) FILTER (WHERE cl.state = 'REPLIED')::int AS replied`),
    )) as Array<{
    step_index: number;
    variant: string;
    messages: number;
    queued: number;
    sent: number;
    sent_proof: number;
    skipped: number;
    pending_review: number;
    rejected: number;
    replied: number;
  }>;
  return rows.map((row) => ({
    step: row.step_index + 1,
    variant: row.variant,
    messages: row.messages,
    queued: row.queued,
    sent: row.sent,
    sentProof: row.sent_proof,
    skipped: row.skipped,
    pendingReview: row.pending_review,
    rejected: row.rejected,
    replied: row.replied,
  }));
}

function countsFrom(rows: Array<{ status: string; count: number }>): MessageCounts {
  const byStatus = new Map<string, number>();
  for (const row of rows) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + row.count);
  const counts = { messages: rows.reduce((sum, row) => sum + row.count, 0) } as MessageCounts;
  for (const status of MESSAGE_STATUSES) counts[counterOf[status]] = byStatus.get(status) ?? 0;
  return counts;
}

/** The campaign's report, counted from Postgres (the record), not from any cache. */
export async function campaignReport(db: Knex, campaignId: number): Promise<CampaignReport> {
  const definition = await loadCampaignDefinition(db, campaignId);
  if (definition === undefined) throw new NotFoundError(`campaign ${campaignId} does not exist`);
  const { campaign, steps } = definition;
  const messageRows = (await db('messages')
    .where({ campaign_id: campaignId })
    .groupBy('step_index', 'channel', 'status')
    .select('step_index', 'channel', 'status')
    .count<Array<{ step_index: number; channel: string; status: string; count: number }>>('* as count')) as Array<{
    step_index: number;
    channel: string;
    status: string;
    count: number;
  }>;
  const enrollmentRows = (await db('campaign_leads')
    .where({ campaign_id: campaignId })
    .groupBy('state')
    .select('state')
    .count('* as count')) as Array<{ state: string; count: number }>;
  const enrollments = new Map(enrollmentRows.map((row) => [row.state, row.count]));

  const channels = [...new Set(steps.map((step) => step.channel))];
  const totals = {
    leads: enrollmentRows.reduce((sum, row) => sum + row.count, 0),
    ...countsFrom(messageRows),
    ...(Object.fromEntries(Object.entries(enrollmentCounters).map(([key, state]) => [key, enrollments.get(state) ?? 0])) as Record<
      keyof typeof enrollmentCounters,
      number
    >),
  };
  const sections = await learningSections(db, campaignId, steps);
  return {
    campaign: { id: campaign.id, name: campaign.name, status: campaign.status, mode: campaign.mode, pauseReason: campaign.pauseReason },
    totals,
    bySteps: steps.map((step) => ({
      step: step.stepIndex + 1,
      channel: step.channel,
      ...countsFrom(messageRows.filter((row) => row.step_index === step.stepIndex)),
    })),
    byChannel: channels.map((channel) => ({ channel, ...countsFrom(messageRows.filter((row) => row.channel === channel)) })),
    byVariant: await variantCounts(db, campaignId),
    skipReasons: await skipReasonCounts(db, campaignId),
    ...sections,
    nextActions: nextActions({ campaign, totals, variants: sections.variants }),
  };
}

const columns: ReadonlyArray<keyof MessageCounts> = ['messages', ...messageCounters];

/** The report as Markdown: a summary and a table per step and per channel. */
export function reportToMarkdown(report: CampaignReport): string {
  const { campaign, totals } = report;
  const table = (head: string[], rows: Array<Array<string | number>>) =>
    [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
  return [
    `# Campaign report: ${campaign.name}`,
    '',
    `Campaign ${campaign.id} · status ${campaign.status} · mode ${campaign.mode}`,
    '',
    ...(campaign.pauseReason === null ? [] : [`**Paused by drumbeat:** ${campaign.pauseReason}. Fix it, then \`drumbeat campaign resume ${campaign.id}\`.`, '']),
    '## Next actions',
    '',
    ...report.nextActions.map((action) => `- ${markdownLine(action)}`),
    '',
    '## Totals',
    '',
    table(
      ['metric', 'count'],
      Object.entries(totals).map(([key, value]) => [key, value]),
    ),
    '',
    '## By step',
    '',
    table(
      ['step', 'channel', ...columns],
      report.bySteps.map((step) => [step.step, step.channel, ...columns.map((column) => step[column])]),
    ),
    '',
    '## By channel',
    '',
    table(
      ['channel', ...columns],
      report.byChannel.map((channel) => [channel.channel, ...columns.map((column) => channel[column])]),
    ),
    '',
    ...(report.byVariant.length === 0
      ? []
      : [
          '## By variant',
          '',
          table(
            ['step', 'variant', 'messages', 'sent', 'sentProof', 'skipped', 'pendingReview', 'rejected', 'replied'],
            report.byVariant.map((row) => [row.step, row.variant, row.messages, row.sent, row.sentProof, row.skipped, row.pendingReview, row.rejected, row.replied]),
          ),
          '',
        ]),
    '## Skip reasons',
    '',
    report.skipReasons.length === 0
      ? 'No message was skipped.'
      : table(
          ['reason', 'count'],
          report.skipReasons.map((row) => [markdownCell(row.reason), row.count]),
        ),
    '',
    ...learningMarkdown(report, table),
  ].join('\n');
}

/** A reply rate with its interval: `12.5% (95% 6.1%–23.9%)`. */
function rateWords(rate: RateInterval): string {
  return `${percent(rate.rate)} (95% ${percent(rate.low)}–${percent(rate.high)})`;
}

/** The outcome columns of the learning tables (message counts, then events). */
const outcomeHead = ['sent', 'proof', 'failed', 'skipped', 'delivered', 'opened', 'clicked', 'replied', 'bounced hard', 'bounced soft', 'complained', 'unsubscribed'];
const outcomeCells = (counts: OutcomeCounts) => OUTCOME_KEYS.map((key) => counts[key]);

type TableWriter = (head: string[], rows: Array<Array<string | number>>) => string;

/** The learning sections as Markdown; an empty section says "none". */
function learningMarkdown(report: CampaignReport, table: TableWriter): string[] {
  const section = (title: string, rows: unknown[], body: () => string) => [`## ${title}`, '', rows.length === 0 ? 'none' : body(), ''];
  const credited = (row: SourceOutcome) => [row.leads, row.replied, row.bouncedHard, row.bouncedSoft, row.complained, row.unsubscribed];
  const creditHead = ['leads', 'replied', 'bounced hard', 'bounced soft', 'complained', 'unsubscribed'];
  const { attribution } = report;
  return [
    ...section('Daily', report.daily, () => table(['day', ...outcomeHead], report.daily.map((day) => [day.day, ...outcomeCells(day)]))),
    ...section('Step funnel', report.funnel, () => table(['step', 'channel', ...outcomeHead, 'reply rate'], report.funnel.map((step) => [step.step, step.channel, ...outcomeCells(step), rateWords(step.replyRate)]))),
    ...section('Channels', report.channels, () => table(['channel', ...outcomeHead, 'reply rate'], report.channels.map((row) => [row.channel, ...outcomeCells(row), rateWords(row.replyRate)]))),
    ...section('Variants', report.variants, () =>
      table(
        ['step', 'variant', 'angle', 'selection', 'sent', 'replied', 'reply rate'],
        report.variants.map((row) => [row.step, row.variant, row.angle ?? '', row.selection, row.sent, row.replied, rateWords(row.replyRate)]),
      ),
    ),
    ...section('Segments', report.segments, () =>
      table(
        ['segment', 'leads', 'sent', 'replied', 'bounced', 'unsubscribed', 'reply rate'],
        report.segments.map((row) => [markdownCell(row.segment), row.leads, row.sent, row.replied, row.bouncedHard + row.bouncedSoft, row.unsubscribed + row.complained, rateWords(row.replyRate)]),
      ),
    ),
    ...section('Attribution by source', attribution.bySource, () =>
      table(['source', ...creditHead], attribution.bySource.map((row) => [markdownCell(row.source), ...credited(row)])),
    ),
    ...section('Attribution by UTM', attribution.byUtm, () =>
      table(
        ['utm_source', 'utm_campaign', ...creditHead],
        attribution.byUtm.map((row) => [markdownCell(row.utmSource), markdownCell(row.utmCampaign), ...credited(row)]),
      ),
    ),
    ...section('First and last touch', [...attribution.firstTouch, ...attribution.lastTouch], () =>
      table(
        ['touch', 'channel', 'leads'],
        [...attribution.firstTouch.map((row) => ['first', row.channel, row.leads]), ...attribution.lastTouch.map((row) => ['last', row.channel, row.leads])],
      ),
    ),
    ...section('Guard events', report.guardEvents, () => report.guardEvents.map((event) => `- ${markdownLine(event.at)}: ${markdownLine(event.summary)}`).join('\n')),
    ...section('Post metrics', report.postMetrics, () =>
      table(
        ['post', 'platform', 'day', 'metrics'],
        report.postMetrics.map((row) => [markdownCell(row.post), row.platform, row.day, markdownCell(Object.entries(row.metrics).map(([name, value]) => `${name} ${value}`).join(', '))]),
      ),
    ),
  ];
}

/** Text on one Markdown line: a line break would end the item. */
function markdownLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** Text in a Markdown table cell: a `|` or a line break would end the cell or the row. */
function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

/** The CSV columns after the message counts: what the learning rows fill (empty in the others). */
const learningColumns = [
  'day',
  'variant',
  'angle',
  'segment',
  'source',
  'utm_source',
  'utm_campaign',
  'sends',
  'delivered',
  'opened',
  'clicked',
  'replied',
  'bounced_hard',
  'bounced_soft',
  'complained',
  'unsubscribed',
  'leads',
  'reply_rate',
  'reply_rate_low',
  'reply_rate_high',
  'text',
] as const;

type LearningCells = Partial<Record<(typeof learningColumns)[number], string | number | null>>;

const outcomeCellsOf = (counts: OutcomeCounts): LearningCells => ({
  sends: counts.sent,
  delivered: counts.delivered,
  opened: counts.opened,
  clicked: counts.clicked,
  replied: counts.replied,
  bounced_hard: counts.bouncedHard,
  bounced_soft: counts.bouncedSoft,
  complained: counts.complained,
  unsubscribed: counts.unsubscribed,
});
const rateCellsOf = (rate: RateInterval): LearningCells => ({ reply_rate: rate.rate.toFixed(4), reply_rate_low: rate.low.toFixed(4), reply_rate_high: rate.high.toFixed(4) });

/** One learning row: its scope, step and channel, then its learning cells; the message-count columns stay empty. */
function learningLine(scope: string, step: number | '', channel: string, cells: LearningCells): string {
  return [scope, step, csvCell(channel), '', ...columns.map(() => ''), ...learningColumns.map((column) => (cells[column] === undefined || cells[column] === null ? '' : csvCell(cells[column])))].join(',');
}

/**
 * The report as CSV, one table: a row per step, per channel, the totals and a row per skip reason
 * (message counts by status, as before: its count in `messages` and `skipped` for a skip
 * reason); then the learning rows, whose cells are the columns after those counts: `day`,
 * `funnel-step`, `channel-outcome`, `variant`, `segment`, `source`, `utm`, `first-touch`,
 * `last-touch`, `guard-event`, `post-metric` (its metrics as JSON in `text`) and `next-action`
 * (the sentence in `text`).
 */
export function reportToCsv(report: CampaignReport): string {
  const pad = learningColumns.map(() => '');
  const lines = [['scope', 'step', 'channel', 'reason', ...columns, ...learningColumns].join(',')];
  for (const step of report.bySteps) lines.push(['step', step.step, csvCell(step.channel), '', ...columns.map((column) => step[column]), ...pad].join(','));
  for (const channel of report.byChannel) lines.push(['channel', '', csvCell(channel.channel), '', ...columns.map((column) => channel[column]), ...pad].join(','));
  lines.push(['total', '', '', '', ...columns.map((column) => report.totals[column]), ...pad].join(','));
  for (const row of report.skipReasons) {
    lines.push(['skip-reason', '', '', csvCell(row.reason), ...columns.map((column) => (column === 'messages' || column === 'skipped' ? row.count : '')), ...pad].join(','));
  }
  for (const day of report.daily) lines.push(learningLine('day', '', '', { day: day.day, ...outcomeCellsOf(day) }));
  for (const step of report.funnel) lines.push(learningLine('funnel-step', step.step, step.channel, { ...outcomeCellsOf(step), ...rateCellsOf(step.replyRate) }));
  for (const row of report.channels) lines.push(learningLine('channel-outcome', '', row.channel, { ...outcomeCellsOf(row), ...rateCellsOf(row.replyRate) }));
  for (const row of report.variants) lines.push(learningLine('variant', row.step, '', { variant: row.variant, angle: row.angle, text: row.selection, ...outcomeCellsOf(row), ...rateCellsOf(row.replyRate) }));
  for (const row of report.segments) lines.push(learningLine('segment', '', '', { segment: row.segment, leads: row.leads, ...outcomeCellsOf(row), ...rateCellsOf(row.replyRate) }));
  const credit = (row: SourceOutcome): LearningCells => ({
    leads: row.leads,
    replied: row.replied,
    bounced_hard: row.bouncedHard,
    bounced_soft: row.bouncedSoft,
    complained: row.complained,
    unsubscribed: row.unsubscribed,
  });
  for (const row of report.attribution.bySource) lines.push(learningLine('source', '', '', { source: row.source, ...credit(row) }));
  for (const row of report.attribution.byUtm) lines.push(learningLine('utm', '', '', { utm_source: row.utmSource, utm_campaign: row.utmCampaign, ...credit(row) }));
  for (const row of report.attribution.firstTouch) lines.push(learningLine('first-touch', '', row.channel, { leads: row.leads }));
  for (const row of report.attribution.lastTouch) lines.push(learningLine('last-touch', '', row.channel, { leads: row.leads }));
  for (const event of report.guardEvents) lines.push(learningLine('guard-event', '', '', { day: event.at, text: event.summary }));
  for (const row of report.postMetrics) lines.push(learningLine('post-metric', '', row.platform, { day: row.day, text: `${row.post} ${JSON.stringify(row.metrics)}` }));
  for (const action of report.nextActions) lines.push(learningLine('next-action', '', '', { text: action }));
  return `${lines.join('\n')}\n`;
}
