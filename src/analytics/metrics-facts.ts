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
 * SQL of a lateral sub-select: the message an event (aliased `e`) is credited to, as `am`:
 * the one it names, else the last sent to its lead in its campaign no later than it occurred.
 */
export const attributedMessageSql = `LEFT JOIN LATERAL (
    SELECT am.id, am.channel, am.step_index, am.variant FROM messages am WHERE am.id = e.message_id
    UNION ALL
    (SELECT am.id, am.channel, am.step_index, am.variant FROM messages am
      WHERE e.message_id IS NULL AND am.campaign_id = e.campaign_id AND am.lead_id = e.lead_id
        AND am.status IN (${sentStatuses}) AND ${sentAtSql('am')} <= e.occurred_at
      ORDER BY ${sentAtSql('am')} DESC, am.id DESC LIMIT 1)
    LIMIT 1) am ON true`;

const zeroOne = (condition: string) => `CASE WHEN ${condition} THEN 1 ELSE 0 END`;

/**
 * SQL of a statement fragment `WITH scope AS (…), facts AS (…)`: the facts of the campaign days in
 * `scope(campaign_id, day)` (a NULL day: every day of that campaign), one row per (campaign,
 * day, channel, step_index, variant, segment) with every counter. Takes two parameters, the
 * scope's campaign ids and days (see {@link scopeBindings}). A campaign must not be in the
 * scope both with a NULL day and with days.
 */
export const factsCteSql = `WITH scope AS (
    SELECT * FROM unnest(?::bigint[], ?::date[]) AS s(campaign_id, day)
  ), counted AS (
    SELECT m.campaign_id,
           CASE WHEN m.status IN (${sentStatuses}) THEN ${localDaySql(sentAtSql('m'))} ELSE ${localDaySql('m.created_at')} END AS day,
           m.channel, m.step_index, coalesce(m.variant, '${NONE_LABEL}') AS variant, coalesce(cl.segment, '${NO_SEGMENT}') AS segment,
           ${zeroOne(`m.status IN (${sentStatuses})`)} AS sent, ${zeroOne(`m.status = 'SENT_PROOF'`)} AS sent_proof,
           ${zeroOne(`m.status = 'DEAD'`)} AS failed, ${zeroOne(`m.status = 'SKIPPED'`)} AS skipped,
           ${COUNTED_EVENT_TYPES.map((type) => `0 AS ${type}`).join(', ')}
      FROM messages m
      JOIN campaigns c ON c.id = m.campaign_id
      JOIN campaign_leads cl ON cl.id = m.enrollment_id
     WHERE m.campaign_id IN (SELECT campaign_id FROM scope) AND m.status IN (${sentStatuses}, 'DEAD', 'SKIPPED')
    UNION ALL
    SELECT e.campaign_id, ${localDaySql('e.occurred_at')} AS day,
           coalesce(am.channel, '${NONE_LABEL}'), coalesce(am.step_index, -1), coalesce(am.variant, '${NONE_LABEL}'), coalesce(cl.segment, '${NO_SEGMENT}'),
           0, 0, 0, 0,
           ${COUNTED_EVENT_TYPES.map((type) => `${zeroOne(`e.type = '${type}'`)}`).join(', ')}
      FROM contact_events e
      JOIN campaigns c ON c.id = e.campaign_id
      LEFT JOIN campaign_leads cl ON cl.campaign_id = e.campaign_id AND cl.lead_id = e.lead_id
      ${attributedMessageSql}
     WHERE e.campaign_id IN (SELECT campaign_id FROM scope) AND e.type IN (${COUNTED_EVENT_TYPES.map((type) => `'${type}'`).join(', ')})
  ), facts AS (
    SELECT x.campaign_id, x.day, x.channel, x.step_index, x.variant, x.segment,
           ${METRIC_COUNTERS.map((counter) => `sum(x.${counter})::int AS ${counter}`).join(', ')}
      FROM counted x
      JOIN scope s ON s.campaign_id = x.campaign_id AND x.day = coalesce(s.day, x.day)
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
