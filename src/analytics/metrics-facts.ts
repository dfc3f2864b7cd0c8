import type { Knex } from 'knex';
import { arrayBinding } from '../db/bindings.js';
import { NO_SEGMENT } from '../segments/segment-rules.js';

/**
 * What a campaign's messages and applied events count, per local day, channel, step, variant
 * and segment: the one definition the metrics rollup writes (`metrics_daily` and the tables
 * summed from it) and the report reads live, so both always agree.
 *
 * - A message counts once, on one day in the campaign's time zone: `sent` (SENT or SENT_PROOF;
 *   `sent_proof` the PROOF part) on the day it went out; `failed` (DEAD) and `skipped` on the
 *   day it was planned. Those days never change once the message is in that status, so a
 *   recompute of the days a changed message can count on is complete.
 * - An event of the lead's timeline (`contact_events`) counts on the day it occurred:
 *   delivered, opened, clicked, replied, bounced_hard, bounced_soft, complained, unsubscribed.
 *   It is credited to the message it names, else to the last message sent to the lead in that
 *   campaign before it; an event that follows no message counts with channel and variant
 *   `(none)` and step -1 (its campaign and day only).
 * - The segment is the label the lead's enrollment was given (`(none)` without one).
 */

/** Every counter, in the order of the metrics tables' columns. */
export const METRIC_COUNTERS = ['sent', 'sent_proof', 'failed', 'skipped', 'delivered', 'opened', 'clicked', 'replied', 'bounced_hard', 'bounced_soft', 'complained', 'unsubscribed'] as const;

export type MetricCounter = (typeof METRIC_COUNTERS)[number];

/** The event types counted, as `contact_events.type` names them (each is also its counter). */
export const COUNTED_EVENT_TYPES = ['delivered', 'opened', 'clicked', 'replied', 'bounced_hard', 'bounced_soft', 'complained', 'unsubscribed'] as const;

/** The event types that end in an outcome credited to the lead's source (attribution). */
export const OUTCOME_EVENT_TYPES = ['replied', 'bounced_hard', 'bounced_soft', 'complained', 'unsubscribed'] as const;

/** The channel and variant of what names none: an event that follows no message, a step without variants. */
export const NONE_LABEL = NO_SEGMENT;

/** SQL: the instant a message counts on as sent (it went out; the claim time when an operator settled it). */
export const sentAtSql = (alias: string) => `coalesce(${alias}.sent_at, ${alias}.sending_at, ${alias}.created_at)`;

/** SQL: a timestamp's local day in the campaign's time zone (campaigns aliased `c`). */
export const localDaySql = (timestamp: string) => `(${timestamp} AT TIME ZONE c.timezone)::date`;

const sentStatuses = `'SENT', 'SENT_PROOF'`;

/**
 * SQL joins that find the message an event (aliased `e`) is credited to: the one it names (`em`,
 * a plain join), else (`lm`, looked up only for an event that names none) the last one sent to
 * its lead in its campaign no later than it occurred. Read its columns with {@link attributedSql}.
 */
export const attributedMessageJoinsSql = `LEFT JOIN messages em ON em.id = e.message_id
    LEFT JOIN LATERAL (
      SELECT lm.id, lm.channel, lm.step_index, lm.variant FROM messages lm
       WHERE e.message_id IS NULL AND lm.campaign_id = e.campaign_id AND lm.lead_id = e.lead_id
         AND lm.status IN (${sentStatuses}) AND ${sentAtSql('lm')} <= e.occurred_at
       ORDER BY ${sentAtSql('lm')} DESC, lm.id DESC LIMIT 1) lm ON true`;

/** SQL: a column of the message an event is credited to (NULL when it follows none); see {@link attributedMessageJoinsSql}. */
export const attributedSql = (column: 'id' | 'channel' | 'step_index' | 'variant') => `coalesce(em.${column}, lm.${column})`;

const messageCounters = ['sent', 'sent_proof', 'failed', 'skipped'] as const;

/**
 * SQL of a statement fragment `WITH scope AS (…), facts AS (…)`: the facts of the campaign days in
 * `scope(campaign_id, day)` (a NULL day: every day of that campaign), one row per (campaign,
 * day, channel, step_index, variant, segment) with every counter. Each message's and event's day
 * is computed first and rows outside the scope's days are dropped before anything is joined to
 * them, then messages and events are counted per group and the groups summed. Takes two parameters, the scope's campaign ids and days (see
 * {@link scopeBindings}). A campaign must not be in the scope both with a NULL day and with days.
 */
export const factsCteSql = `WITH scope AS (
    SELECT * FROM unnest(?::bigint[], ?::date[]) AS s(campaign_id, day)
  ), counted_messages AS (
    SELECT m.campaign_id, m.enrollment_id, m.channel, m.step_index, m.variant, m.status,
           CASE WHEN m.status IN (${sentStatuses}) THEN ${localDaySql(sentAtSql('m'))} ELSE ${localDaySql('m.created_at')} END AS day
      FROM messages m
      JOIN campaigns c ON c.id = m.campaign_id
     WHERE m.campaign_id IN (SELECT campaign_id FROM scope) AND m.status IN (${sentStatuses}, 'DEAD', 'SKIPPED')
  ), message_groups AS (
    SELECT m.campaign_id, m.day, m.channel, m.step_index, coalesce(m.variant, '${NONE_LABEL}') AS variant, coalesce(cl.segment, '${NO_SEGMENT}') AS segment,
           count(*) FILTER (WHERE m.status IN (${sentStatuses})) AS sent, count(*) FILTER (WHERE m.status = 'SENT_PROOF') AS sent_proof,
           count(*) FILTER (WHERE m.status = 'DEAD') AS failed, count(*) FILTER (WHERE m.status = 'SKIPPED') AS skipped
      FROM counted_messages m
      JOIN scope s ON s.campaign_id = m.campaign_id AND m.day = coalesce(s.day, m.day)
      JOIN campaign_leads cl ON cl.id = m.enrollment_id
     GROUP BY 1, 2, 3, 4, 5, 6
  ), counted_events AS (
    SELECT e.*, ${localDaySql('e.occurred_at')} AS day
      FROM contact_events e
      JOIN campaigns c ON c.id = e.campaign_id
     WHERE e.campaign_id IN (SELECT campaign_id FROM scope) AND e.type IN (${COUNTED_EVENT_TYPES.map((type) => `'${type}'`).join(', ')})
  ), event_groups AS (
    SELECT e.campaign_id, e.day,
           coalesce(${attributedSql('channel')}, '${NONE_LABEL}') AS channel, coalesce(${attributedSql('step_index')}, -1) AS step_index,
           coalesce(${attributedSql('variant')}, '${NONE_LABEL}') AS variant, coalesce(cl.segment, '${NO_SEGMENT}') AS segment,
           ${COUNTED_EVENT_TYPES.map((type) => `count(*) FILTER (WHERE e.type = '${type}') AS ${type}`).join(', ')}
      FROM counted_events e
      JOIN scope s ON s.campaign_id = e.campaign_id AND e.day = coalesce(s.day, e.day)
      LEFT JOIN campaign_leads cl ON cl.campaign_id = e.campaign_id AND cl.lead_id = e.lead_id
      ${attributedMessageJoinsSql}
     GROUP BY 1, 2, 3, 4, 5, 6
  ), facts AS (
    SELECT x.campaign_id, x.day, x.channel, x.step_index, x.variant, x.segment,
           ${METRIC_COUNTERS.map((counter) => `sum(x.${counter})::int AS ${counter}`).join(', ')}
      FROM (
        SELECT campaign_id, day, channel, step_index, variant, segment, ${messageCounters.join(', ')}, ${COUNTED_EVENT_TYPES.map((type) => `0 AS ${type}`).join(', ')}
          FROM message_groups
        UNION ALL
        SELECT campaign_id, day, channel, step_index, variant, segment, ${messageCounters.map((counter) => `0 AS ${counter}`).join(', ')}, ${COUNTED_EVENT_TYPES.join(', ')}
          FROM event_groups
      ) x
     GROUP BY x.campaign_id, x.day, x.channel, x.step_index, x.variant, x.segment
  )`;

/** A campaign day, or a whole campaign (day null), to count or recompute. */
export interface ScopeEntry {
  campaignId: number;
  day: string | null;
}

/** The two parameters of {@link factsCteSql}'s scope. */
export function scopeBindings(scope: readonly ScopeEntry[]): Knex.Value[] {
  return [scope.map((entry) => entry.campaignId), arrayBinding(scope.map((entry) => entry.day))];
}

/** One row of facts. */
export type MetricFact = {
  campaign_id: number;
  day: string;
  channel: string;
  step_index: number;
  variant: string;
  segment: string;
} & Record<MetricCounter, number>;

/** Every fact of one campaign, counted now from messages and events (what the report reads). */
export async function campaignFacts(db: Knex, campaignId: number): Promise<MetricFact[]> {
  const { rows } = await db.raw<{ rows: MetricFact[] }>(`${factsCteSql} SELECT * FROM facts ORDER BY day, step_index, channel, variant, segment`, scopeBindings([{ campaignId, day: null }]));
  return rows;
}
