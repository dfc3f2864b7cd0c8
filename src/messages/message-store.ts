import type { Knex } from 'knex';
import type { SendWindow } from '../campaigns/campaign-spec.js';
import type { Channel } from '../core/channels.js';
import type { CampaignMode, CampaignStatus, StrategyStatus } from '../campaigns/campaign-store.js';
import type { EnrollmentState } from '../enrollments/enrollment-lifecycle.js';
import { suppressedLeadSql } from '../suppression/suppression-store.js';
import { preparedAs, sqlWords } from '../db/bindings.js';
import type { BodyFormat } from '../core/message-body.js';
import { DELIVERED_STATUSES, killSwitchSql, type MessageStatus } from './message-lifecycle.js';

/**
 * The reads of `messages` that several areas share; every write is in `message-lifecycle.ts`.
 */

/**
 * SQL of the one note an operator sees beside a message's status (`leads show`): why it was
 * skipped, why it was rejected, why it is held for review, or how its UNKNOWN outcome was
 * resolved. `alias` is the messages table's alias in the query.
 */
export function messageNoteSql(alias: string): string {
  return `coalesce(${alias}.skip_reason, 'rejected in review: ' || ${alias}.rejection_reason, ${alias}.review_hold_reason, ${alias}.resolution_note)`;
}

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
            AND m.channel = 'email' AND m.status IN (${sqlWords(DELIVERED_STATUSES)})
          ORDER BY m.step_index DESC
          LIMIT 1) AS sent`,
    [before.map((item) => item.leadId), before.map((item) => item.stepIndex), campaignId],
  ).options(preparedAs('last-sent-emails'));
  return new Map(
    rows.map((row) => [row.lead_id, { leadId: row.lead_id, subject: row.subject, messageId: row.provider_message_id, references: row.thread_references }]),
  );
}

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
