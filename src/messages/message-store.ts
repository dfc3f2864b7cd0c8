import type { Knex } from 'knex';
import type { Channel, SendWindow } from '../campaigns/campaign-spec.js';
import type { CampaignMode, CampaignStatus, StrategyStatus } from '../campaigns/campaign-store.js';
import { suppressedLeadSql } from '../suppression/suppression-store.js';
import { arrayBinding, preparedAs } from '../db/bindings.js';
import type { BodyFormat } from './message-body.js';

/** Every status a message can have, in the order of its life. */
export const MESSAGE_STATUSES = [
  'PLANNED',
  'COMPOSED',
  'PENDING_REVIEW',
  'APPROVED',
  'REJECTED',
  'QUEUED',
  'SENDING',
  'SENT',
  'SENT_PROOF',
  'FAILED',
  'DEAD',
  'SKIPPED',
  'UNKNOWN',
] as const;

export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export type EnrollmentState = 'NEW' | 'ACTIVE' | 'COMPLETED' | 'REPLIED' | 'BOUNCED' | 'UNSUBSCRIBED' | 'SUPPRESSED' | 'FAILED';

/**
 * Statuses from which a send job may claim a message. DEAD is included because the only way a
 * DEAD message's job runs again is an operator retrying it from the dead-letter view.
 */
export const SENDABLE_STATUSES: readonly MessageStatus[] = ['QUEUED', 'APPROVED', 'FAILED', 'DEAD'];

/** Everything the send gates need about one message, read in one batched query. */
export interface SendContextRow {
  id: number;
  idempotency_key: string;
  status: MessageStatus;
  channel: Channel;
  step_index: number;
  recipient: string | null;
  subject: string | null;
  body: string | null;
  format: BodyFormat;
  in_reply_to: string | null;
  thread_references: string | null;
  enrollment_id: number;
  campaign_id: number;
  lead_id: number;
  campaign_status: CampaignStatus;
  strategy_status: StrategyStatus;
  mode: CampaignMode;
  timezone: string;
  send_window: SendWindow | null;
  daily_cap: number | null;
  from_name: string | null;
  from_email: string | null;
  reply_to: string | null;
  enrollment_state: EnrollmentState;
  lead_email: string | null;
  lead_timezone: string | null;
  stop_on_reply: boolean;
  suppressed_by: string | null;
  killed: boolean;
}

const killSwitchSql = `coalesce((SELECT (value->>'on')::boolean FROM settings WHERE key = 'kill_switch'), false)`;

/**
 * SQL for "the message's status is one of (a text[] parameter)", written so that no status
 * index can answer it. Statistics taken while nothing was queued or in flight count almost no
 * such rows; trusting them, the planner would read every queued or in-flight message for each
 * batch instead of finding the batch's rows by primary key.
 */
const statusAmongSql = `array_position(?::text[], m.status) IS NOT NULL`;

/** Loads the send contexts of many messages in one query (suppressions and kill switch included). */
export async function loadSendContexts(db: Knex, ids: readonly number[]): Promise<Map<number, SendContextRow>> {
  const { rows } = await db.raw<{ rows: SendContextRow[] }>(
    `SELECT m.id, m.idempotency_key, m.status, m.channel, m.step_index, m.recipient, m.subject, m.body,
            m.format, m.in_reply_to, m.thread_references, m.enrollment_id, m.campaign_id, m.lead_id,
            c.status AS campaign_status, c.strategy_status, c.mode, c.timezone, c.send_window, c.daily_cap,
            c.from_name, c.from_email, c.reply_to,
            cl.state AS enrollment_state, l.email AS lead_email, l.timezone AS lead_timezone,
            s.stop_on_reply,
            (SELECT s2.kind || ' (' || s2.reason || ')' FROM suppressions s2
              WHERE (s2.campaign_id IS NULL OR s2.campaign_id = m.campaign_id)
                AND ((s2.kind = 'identity' AND s2.value = l.identity_hash)
                  OR (s2.kind = 'email' AND s2.value = l.email)
                  OR (s2.kind = 'domain' AND s2.value = split_part(l.email, '@', 2)))
              LIMIT 1) AS suppressed_by,
            ${killSwitchSql} AS killed
       FROM messages m
       JOIN campaigns c ON c.id = m.campaign_id
       JOIN campaign_leads cl ON cl.id = m.enrollment_id
       JOIN leads l ON l.id = m.lead_id
       JOIN campaign_steps s ON s.campaign_id = m.campaign_id AND s.step_index = m.step_index
      WHERE m.id = ANY(?::bigint[])`,
    [[...ids]],
  ).options(preparedAs('load-send-contexts'));
  return new Map(rows.map((row) => [row.id, row]));
}

/** The last email a lead was sent in a campaign before a step, as a follow-up replies to it. */
export interface LastSentEmail {
  leadId: number;
  subject: string | null;
  messageId: string | null;
  references: string | null;
}

/**
 * For each (lead, step) of one campaign, the last email sent to that lead before that step
 * (SENT, or SENT_PROOF in PROOF mode), in one statement: each lead walks its own
 * (campaign, lead, step) index backwards to its first sent email. Leads with none are absent.
 */
export async function lastSentEmails(
  db: Knex,
  campaignId: number,
  before: ReadonlyArray<{ leadId: number; stepIndex: number }>,
): Promise<Map<number, LastSentEmail>> {
  if (before.length === 0) return new Map();
  const { rows } = await db.raw<{ rows: Array<{ lead_id: number; subject: string | null; provider_message_id: string | null; thread_references: string | null }> }>(
    `SELECT wanted.lead_id, sent.subject, sent.provider_message_id, sent.thread_references
       FROM unnest(?::bigint[], ?::int[]) AS wanted(lead_id, step_index)
       CROSS JOIN LATERAL (
         SELECT m.subject, m.provider_message_id, m.thread_references FROM messages m
          WHERE m.campaign_id = ? AND m.lead_id = wanted.lead_id AND m.step_index < wanted.step_index
            AND m.channel = 'email' AND m.status IN ('SENT', 'SENT_PROOF')
          ORDER BY m.step_index DESC
          LIMIT 1) AS sent`,
    [before.map((item) => item.leadId), before.map((item) => item.stepIndex), campaignId],
  ).options(preparedAs('last-sent-emails'));
  return new Map(
    rows.map((row) => [row.lead_id, { leadId: row.lead_id, subject: row.subject, messageId: row.provider_message_id, references: row.thread_references }]),
  );
}

/** One message to claim; an email also fixes its Message-ID and unsubscribe token hash. */
export interface SendClaim {
  id: number;
  providerMessageId: string | null;
  unsubscribeTokenHash: string | null;
}

/**
 * Compare-and-set of many messages from a sendable status to SENDING, committed before any
 * adapter call. The same statement re-checks, under the row lock, that the campaign is ACTIVE,
 * the kill switch is off and the lead is not suppressed, and stores each email's Message-ID
 * and unsubscribe token hash (needed as soon as the email is out). Returns the ids it claimed.
 * The claims drive the plan (one primary-key look-up each): the campaign is read by a
 * sub-select, not joined, and the status test cannot use an index (see `statusAmongSql`).
 */
export async function claimForSending(db: Knex, claims: readonly SendClaim[], now: Date): Promise<Set<number>> {
  const { rows } = await db.raw<{ rows: Array<{ id: number }> }>(
    `UPDATE messages m SET status = 'SENDING', sending_at = ?, attempts = m.attempts + 1, updated_at = ?,
            provider_message_id = coalesce(claim.provider_message_id, m.provider_message_id),
            unsubscribe_token_hash = coalesce(claim.token_hash, m.unsubscribe_token_hash)
       FROM unnest(?::bigint[], ?::text[], ?::text[]) AS claim(id, provider_message_id, token_hash), leads l
      WHERE m.id = claim.id AND ${statusAmongSql}
        AND (SELECT c.status FROM campaigns c WHERE c.id = m.campaign_id) = 'ACTIVE'
        AND l.id = m.lead_id AND NOT ${suppressedLeadSql('m.campaign_id')}
        AND NOT ${killSwitchSql}
      RETURNING m.id`,
    [
      now,
      now,
      claims.map((claim) => claim.id),
      arrayBinding(claims.map((claim) => claim.providerMessageId)),
      arrayBinding(claims.map((claim) => claim.unsubscribeTokenHash)),
      [...SENDABLE_STATUSES],
    ],
  ).options(preparedAs('claim-for-sending'));
  return new Set(rows.map((row) => row.id));
}

export interface Delivery {
  id: number;
  status: 'SENT' | 'SENT_PROOF';
  provider: string;
  externalId: string;
}

/**
 * Records many deliveries in one statement and advances each enrollment: to the next step
 * (due at send time + its delay) or COMPLETED after the last. Only SENDING messages change,
 * and only enrollments still live and on that step. Returns the ids recorded.
 */
export async function recordDeliveries(db: Knex, deliveries: readonly Delivery[], now: Date): Promise<Set<number>> {
  const { rows } = await db.raw<{ rows: Array<{ id: number }> }>(
    `WITH outcome AS (
       SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[]) AS o(id, status, provider, external_id)
     ), sent AS (
       UPDATE messages m SET status = outcome.status, provider = outcome.provider, external_id = outcome.external_id,
              sent_at = ?, updated_at = ?, last_error = NULL
         FROM outcome
        WHERE m.id = outcome.id AND ${statusAmongSql}
        RETURNING m.id, m.enrollment_id, m.campaign_id, m.step_index
     ), advanced AS (
       ${advanceEnrollmentsSql('sent')}
     )
     SELECT id FROM sent`,
    [
      deliveries.map((delivery) => delivery.id),
      deliveries.map((delivery) => delivery.status),
      deliveries.map((delivery) => delivery.provider),
      deliveries.map((delivery) => delivery.externalId),
      now,
      now,
      ['SENDING'],
      now,
      now,
      now,
      now,
    ],
  ).options(preparedAs('record-deliveries'));
  return new Set(rows.map((row) => row.id));
}

/**
 * SQL of an UPDATE that moves the enrollments of the rows in CTE `source` (id, enrollment_id,
 * campaign_id, step_index) past that step. Takes four parameters: the time the next delay
 * counts from, ended_at, last_sent_at and updated_at.
 */
function advanceEnrollmentsSql(source: string): string {
  return `UPDATE campaign_leads cl
             SET current_step = src.step_index + 1,
                 state = CASE WHEN ns.step_index IS NULL THEN 'COMPLETED' ELSE 'ACTIVE' END,
                 next_action_at = CASE WHEN ns.step_index IS NULL THEN NULL
                                       ELSE ?::timestamptz + ns.delay_ms * interval '1 millisecond' END,
                 ended_at = CASE WHEN ns.step_index IS NULL THEN ?::timestamptz ELSE NULL END,
                 last_sent_at = coalesce(?::timestamptz, cl.last_sent_at), updated_at = ?::timestamptz
            FROM ${source} src
            LEFT JOIN campaign_steps ns ON ns.campaign_id = src.campaign_id AND ns.step_index = src.step_index + 1
           WHERE cl.id = src.enrollment_id AND cl.state IN ('NEW', 'ACTIVE') AND cl.current_step = src.step_index
           RETURNING cl.id`;
}

/** What happens to the lead's enrollment when a message ends without being sent. */
export type EnrollmentEffect = { kind: 'none' } | { kind: 'advance' } | { kind: 'end'; state: EnrollmentState; reason: string };

/**
 * Moves one message from one of `from` to a final or waiting status, with its enrollment
 * effect, in one transaction. `giveBackAttempt` undoes the claim's attempt count (a failure
 * that was not this message's). Returns false when the message was not in `from`.
 */
export async function settleMessage(
  db: Knex,
  change: {
    id: number;
    from: readonly MessageStatus[];
    to: MessageStatus;
    now: Date;
    reason?: string;
    error?: string;
    effect: EnrollmentEffect;
    giveBackAttempt?: boolean;
  },
): Promise<boolean> {
  return db.transaction(async (trx) => {
    const { rows } = await trx.raw<{ rows: Array<{ id: number; enrollment_id: number; campaign_id: number; step_index: number }> }>(
      `UPDATE messages SET status = ?, skip_reason = coalesce(?, skip_reason), last_error = coalesce(?, last_error), updated_at = ?,
              attempts = CASE WHEN ? THEN greatest(attempts - 1, 0) ELSE attempts END
        WHERE id = ? AND status = ANY(?::text[])
        RETURNING id, enrollment_id, campaign_id, step_index`,
      [change.to, change.reason ?? null, change.error ?? null, change.now, change.giveBackAttempt === true, change.id, [...change.from]],
    );
    const message = rows[0];
    if (message === undefined) return false;
    if (change.effect.kind === 'advance') {
      await trx.raw(
        `WITH src AS (SELECT ?::bigint AS id, ?::bigint AS enrollment_id, ?::bigint AS campaign_id, ?::int AS step_index)
         ${advanceEnrollmentsSql('src')}`,
        [message.id, message.enrollment_id, message.campaign_id, message.step_index, change.now, change.now, null, change.now],
      );
    } else if (change.effect.kind === 'end') {
      await trx('campaign_leads')
        .where({ id: message.enrollment_id })
        .whereIn('state', ['NEW', 'ACTIVE'])
        .update({ state: change.effect.state, end_reason: change.effect.reason, ended_at: change.now, next_action_at: null, updated_at: change.now });
    }
    return true;
  });
}


/**
 * Enrollment states from which a retried DEAD message may run again: still waiting on it (NEW,
 * ACTIVE), or ended by it (FAILED, e.g. an UNKNOWN message resolved as failed). Every other
 * ending (REPLIED, BOUNCED, UNSUBSCRIBED, SUPPRESSED, COMPLETED) is the lead's own and stays.
 */
export const REOPENABLE_ENROLLMENT_STATES: readonly EnrollmentState[] = ['NEW', 'ACTIVE', 'FAILED'];

/** Campaign statuses in which a retried DEAD message may be queued again (COMPLETED is reopened). */
export const RETRYABLE_CAMPAIGN_STATUSES: readonly CampaignStatus[] = ['ACTIVE', 'PAUSED', 'COMPLETED'];

/** A message as the dead-letter view shows it, with what decides whether it can be retried. */
export interface DeadLetterRow {
  id: number;
  idempotency_key: string;
  status: MessageStatus;
  campaign_id: number;
  lead_id: number;
  step_index: number;
  channel: Channel;
  recipient: string | null;
  attempts: number;
  last_error: string | null;
  updated_at: Date;
  campaign_status: CampaignStatus;
  enrollment_state: EnrollmentState;
  current_step: number;
  suppressed: boolean;
}

const deadLetterColumns = `m.id, m.idempotency_key, m.status, m.campaign_id, m.lead_id, m.step_index, m.channel, m.recipient,
       m.attempts, m.last_error, m.updated_at, c.status AS campaign_status, cl.state AS enrollment_state, cl.current_step,
       ${suppressedLeadSql('m.campaign_id')} AS suppressed`;

/**
 * DEAD messages, oldest id first, from `afterId` on (keyset pages), of one campaign or of all.
 * Read from Postgres, the record: a flushed Redis loses the failed jobs, never this list.
 */
export async function listDeadMessages(db: Knex, filter: { campaignId?: number; afterId?: number; limit: number }): Promise<DeadLetterRow[]> {
  // Joined from campaigns, so each campaign's DEAD messages come from the (campaign, status) index.
  const { rows } = await db.raw<{ rows: DeadLetterRow[] }>(
    `SELECT ${deadLetterColumns}
       FROM campaigns c
       JOIN messages m ON m.campaign_id = c.id AND m.status = 'DEAD'
       JOIN campaign_leads cl ON cl.id = m.enrollment_id
       JOIN leads l ON l.id = m.lead_id
      WHERE (?::bigint IS NULL OR c.id = ?::bigint) AND m.id > ?
      ORDER BY m.id
      LIMIT ?`,
    [filter.campaignId ?? null, filter.campaignId ?? null, filter.afterId ?? 0, filter.limit],
  );
  return rows;
}

/** The dead-letter view of the given messages, whatever their status (missing ids are left out). */
export async function findDeadLetterRows(db: Knex, ids: readonly number[]): Promise<DeadLetterRow[]> {
  const { rows } = await db.raw<{ rows: DeadLetterRow[] }>(
    `SELECT ${deadLetterColumns}
       FROM messages m
       JOIN campaigns c ON c.id = m.campaign_id
       JOIN campaign_leads cl ON cl.id = m.enrollment_id
       JOIN leads l ON l.id = m.lead_id
      WHERE m.id = ANY(?::bigint[])
      ORDER BY m.id`,
    [[...ids]],
  );
  return rows;
}

/**
 * Compare-and-set DEAD → QUEUED of many messages, for an operator's retry, in one statement:
 * only messages still DEAD, of a lead not suppressed, whose campaign still takes them and whose
 * enrollment still waits on them (or ended FAILED on them) change. A FAILED enrollment is reopened to ACTIVE at that step,
 * waiting for the message's outcome. Run it in a transaction; the caller adds the send jobs
 * after it commits. Returns the messages requeued, with whether their enrollment was reopened.
 */
export async function requeueDeadMessages(
  db: Knex,
  ids: readonly number[],
  now: Date,
): Promise<Array<{ id: number; idempotency_key: string; channel: Channel; campaign_id: number; reopened: boolean }>> {
  const { rows } = await db.raw<{ rows: Array<{ id: number; idempotency_key: string; channel: Channel; campaign_id: number; reopened: boolean }> }>(
    `WITH candidate AS (
       SELECT m.id, m.enrollment_id
         FROM messages m
         JOIN campaign_leads cl ON cl.id = m.enrollment_id AND cl.current_step = m.step_index
         JOIN campaigns c ON c.id = m.campaign_id
         JOIN leads l ON l.id = m.lead_id
        WHERE m.id = ANY(?::bigint[]) AND m.status = 'DEAD'
          AND cl.state = ANY(?::text[]) AND c.status = ANY(?::text[])
          AND NOT ${suppressedLeadSql('m.campaign_id')}
        FOR UPDATE OF m, cl
     ), requeued AS (
       UPDATE messages m SET status = 'QUEUED', queued_at = ?, updated_at = ?
         FROM candidate
        WHERE m.id = candidate.id
        RETURNING m.id, m.idempotency_key, m.channel, m.campaign_id, m.enrollment_id
     ), reopened AS (
       UPDATE campaign_leads cl SET state = 'ACTIVE', end_reason = NULL, ended_at = NULL, next_action_at = NULL, updated_at = ?
         FROM requeued
        WHERE cl.id = requeued.enrollment_id AND cl.state = 'FAILED'
        RETURNING cl.id
     )
     SELECT r.id, r.idempotency_key, r.channel, r.campaign_id, EXISTS (SELECT 1 FROM reopened o WHERE o.id = r.enrollment_id) AS reopened
       FROM requeued r
      ORDER BY r.id`,
    [[...ids], [...REOPENABLE_ENROLLMENT_STATES], [...RETRYABLE_CAMPAIGN_STATUSES], now, now, now],
  );
  return rows;
}
