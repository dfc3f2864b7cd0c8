import type { Knex } from 'knex';
import { loadCampaignDefinition } from '../campaigns/campaign-definition.js';
import { NotFoundError } from '../core/domain-error.js';
import { csvCell } from '../leads/lead-export.js';
import { MESSAGE_STATUSES, type MessageStatus } from '../messages/message-lifecycle.js';

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

export interface CampaignReport {
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
  ].join('\n');
}

/** Text in a Markdown table cell: a `|` or a line break would end the cell or the row. */
function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

/**
 * The report as CSV: one row per step, one per channel, the totals, then one row per skip
 * reason (its count in `messages` and `skipped`).
 */
export function reportToCsv(report: CampaignReport): string {
  const lines = [['scope', 'step', 'channel', 'reason', ...columns].join(',')];
  for (const step of report.bySteps) lines.push(['step', step.step, csvCell(step.channel), '', ...columns.map((column) => step[column])].join(','));
  for (const channel of report.byChannel) lines.push(['channel', '', csvCell(channel.channel), '', ...columns.map((column) => channel[column])].join(','));
  lines.push(['total', '', '', '', ...columns.map((column) => report.totals[column])].join(','));
  for (const row of report.skipReasons) {
    lines.push(['skip-reason', '', '', csvCell(row.reason), ...columns.map((column) => (column === 'messages' || column === 'skipped' ? row.count : ''))].join(','));
  }
  return `${lines.join('\n')}\n`;
}
