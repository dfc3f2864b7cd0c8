import type { Knex } from 'knex';
import type { Channel } from '../core/channels.js';
import { CAMPAIGNS, PAUSED_BY_DRUMBEAT, type CampaignStatus } from '../campaigns/campaign-store.js';
import { CONTACT_EVENTS } from '../leads/contact-event-store.js';
import { DELIVERED_STATUSES, MESSAGES } from '../messages/message-lifecycle.js';

/** A campaign an operator should look at, and why. */
export interface CampaignNeedingAttention {
  id: number;
  name: string;
  status: CampaignStatus;
  /** Why drumbeat paused it (a guard or a sender failure); null when it did not. */
  pauseReason: string | null;
  unknown: number;
  dead: number;
  pendingReview: number;
}

/** What happened today (UTC) and what waits for a person, counted from Postgres. */
export interface OperationsOverview {
  /** The start of the UTC day counted from. */
  since: Date;
  /** Messages delivered today (SENT, or SENT_PROOF in PROOF mode), per channel. */
  sentByChannel: Array<{ channel: Channel; sent: number; sentProof: number }>;
  replies: number;
  bounces: number;
  attention: CampaignNeedingAttention[];
}

function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/**
 * The console's overview figures: today's deliveries per channel, today's replies and bounces
 * (the lead timeline), and the campaigns that need a person: paused by drumbeat (with its
 * reason), or holding UNKNOWN, DEAD or review-waiting messages. Those three statuses are
 * unfinished ones, which the partial (campaign_id, status) index covers.
 */
export async function operationsOverview(db: Knex, now: Date): Promise<OperationsOverview> {
  const since = startOfUtcDay(now);
  const [sentRows, eventRows, waitingRows, pausedRows] = await Promise.all([
    db(MESSAGES)
      .whereIn('status', [...DELIVERED_STATUSES])
      .where('sent_at', '>=', since)
      .groupBy('channel')
      .orderBy('channel')
      .select(
        'channel',
        db.raw(`count(*) FILTER (WHERE status = 'SENT')::int AS sent`),
        db.raw(`count(*) FILTER (WHERE status = 'SENT_PROOF')::int AS sent_proof`),
      ) as Promise<Array<{ channel: Channel; sent: number; sent_proof: number }>>,
    db(CONTACT_EVENTS)
      .whereIn('type', ['replied', 'bounced'])
      .where('occurred_at', '>=', since)
      .groupBy('type')
      .select('type', db.raw('count(*)::int AS count')) as Promise<Array<{ type: string; count: number }>>,
    db(`${MESSAGES} as m`)
      .join(`${CAMPAIGNS} as c`, 'c.id', 'm.campaign_id')
      .whereIn('m.status', ['UNKNOWN', 'DEAD', 'PENDING_REVIEW'])
      .groupBy('c.id', 'c.name', 'c.status', 'c.pause_reason', 'c.paused_by')
      .select(
        'c.id',
        'c.name',
        'c.status',
        'c.pause_reason',
        'c.paused_by',
        db.raw(`count(*) FILTER (WHERE m.status = 'UNKNOWN')::int AS unknown`),
        db.raw(`count(*) FILTER (WHERE m.status = 'DEAD')::int AS dead`),
        db.raw(`count(*) FILTER (WHERE m.status = 'PENDING_REVIEW')::int AS pending_review`),
      ) as Promise<AttentionRow[]>,
    db(CAMPAIGNS).where({ status: 'PAUSED', paused_by: PAUSED_BY_DRUMBEAT }).select('id', 'name', 'status', 'pause_reason', 'paused_by') as Promise<AttentionRow[]>,
  ]);
  const attention = new Map<number, CampaignNeedingAttention>();
  for (const row of [...pausedRows, ...waitingRows]) {
    attention.set(Number(row.id), {
      id: Number(row.id),
      name: row.name,
      status: row.status,
      pauseReason: row.status === 'PAUSED' && row.paused_by === PAUSED_BY_DRUMBEAT ? row.pause_reason : null,
      unknown: row.unknown ?? 0,
      dead: row.dead ?? 0,
      pendingReview: row.pending_review ?? 0,
    });
  }
  const events = new Map(eventRows.map((row) => [row.type, row.count]));
  return {
    since,
    sentByChannel: sentRows.map((row) => ({ channel: row.channel, sent: row.sent, sentProof: row.sent_proof })),
    replies: events.get('replied') ?? 0,
    bounces: events.get('bounced') ?? 0,
    attention: [...attention.values()].sort((a, b) => a.id - b.id),
  };
}

interface AttentionRow {
  id: number | string;
  name: string;
  status: CampaignStatus;
  pause_reason: string | null;
  paused_by: string | null;
  unknown?: number;
  dead?: number;
  pending_review?: number;
}
