import type { Knex } from 'knex';
import { findCampaign } from '../campaigns/campaign-store.js';

const messageCounters = {
  sent: 'SENT',
  sentProof: 'SENT_PROOF',
  queued: 'QUEUED',
  pendingReview: 'PENDING_REVIEW',
  skipped: 'SKIPPED',
  failed: 'FAILED',
  dead: 'DEAD',
  unknown: 'UNKNOWN',
} as const;

const enrollmentCounters = {
  replied: 'REPLIED',
  bounced: 'BOUNCED',
  unsubscribed: 'UNSUBSCRIBED',
  completed: 'COMPLETED',
} as const;

type MessageCounts = { messages: number } & Record<keyof typeof messageCounters, number>;

export interface CampaignReport {
  /** `pauseReason`: why drumbeat paused it (a fault that is not a lead's); null otherwise. */
  campaign: { id: number; name: string; status: string; mode: string; pauseReason: string | null };
  totals: { leads: number } & MessageCounts & Record<keyof typeof enrollmentCounters, number>;
  bySteps: Array<{ step: number; channel: string } & MessageCounts>;
  byChannel: Array<{ channel: string } & MessageCounts>;
  /** A/B variants per step: what each variant's messages became, and how many of its leads replied. */
  byVariant: VariantCounts[];
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
  for (const [key, status] of Object.entries(messageCounters)) counts[key as keyof typeof messageCounters] = byStatus.get(status) ?? 0;
  return counts;
}

/** The campaign's report, counted from Postgres (the record), not from any cache. */
export async function campaignReport(db: Knex, campaignId: number): Promise<CampaignReport> {
  const campaign = await findCampaign(db, campaignId);
  if (campaign === undefined) throw new Error(`campaign ${campaignId} does not exist`);
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

  const steps = (await db('campaign_steps').where({ campaign_id: campaignId }).orderBy('step_index').select('step_index', 'channel')) as Array<{
    step_index: number;
    channel: string;
  }>;
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
      step: step.step_index + 1,
      channel: step.channel,
      ...countsFrom(messageRows.filter((row) => row.step_index === step.step_index)),
    })),
    byChannel: channels.map((channel) => ({ channel, ...countsFrom(messageRows.filter((row) => row.channel === channel)) })),
    byVariant: await variantCounts(db, campaignId),
  };
}

const columns = ['messages', ...Object.keys(messageCounters)] as Array<keyof MessageCounts>;

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
  ].join('\n');
}

/** The report as CSV: one row per step, then one per channel, then the totals. */
export function reportToCsv(report: CampaignReport): string {
  const lines = [['scope', 'step', 'channel', ...columns].join(',')];
  for (const step of report.bySteps) lines.push(['step', step.step, step.channel, ...columns.map((column) => step[column])].join(','));
  for (const channel of report.byChannel) lines.push(['channel', '', channel.channel, ...columns.map((column) => channel[column])].join(','));
  lines.push(['total', '', '', ...columns.map((column) => report.totals[column])].join(','));
  return `${lines.join('\n')}\n`;
}
