import type { Knex } from 'knex';
import type { Channel } from '../core/channels.js';
import type { CampaignStatus } from '../campaigns/campaign-store.js';
import { checkedMove, type Move, type SourcesOf, type TransitionTable } from '../core/transition-table.js';
import { arrayBinding, preparedAs, sqlWords } from '../db/bindings.js';
import {
  advanceEnrollmentsSql,
  applyEnrollmentEffect,
  REOPENABLE_ENROLLMENT_STATES,
  reopenEnrollmentsSql,
  type EnrollmentEffect,
  type SettledStep,
} from '../enrollments/enrollment-lifecycle.js';
import { suppressedLeadSql } from '../suppression/suppression-store.js';
import type { BodyFormat } from '../core/message-body.js';

/**
 * The message state machine and the only functions that write `messages`. Every status change
 * is a compare-and-set (`UPDATE … WHERE status = ANY(from) RETURNING`) from the statuses the
 * transition table allows; everyone else calls these.
 */

export const MESSAGES = 'messages';

/** Every status a message can have, in the order of its life. */
export const MESSAGE_STATUSES = ['PLANNED', 'PENDING_REVIEW', 'REJECTED', 'QUEUED', 'SENDING', 'SENT', 'SENT_PROOF', 'FAILED', 'DEAD', 'SKIPPED', 'UNKNOWN'] as const;

export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * Which status may follow which (a message is planned in one of {@link INITIAL_MESSAGE_STATUSES}):
 * - PLANNED waits for its LLM opening line, then is released (QUEUED) or held (PENDING_REVIEW);
 * - PENDING_REVIEW is approved (QUEUED), rejected (REJECTED) or edited (stays PENDING_REVIEW);
 * - QUEUED, FAILED (retrying) and DEAD (retried by an operator) are claimed (SENDING) or
 *   skipped by a gate (SKIPPED);
 * - SENDING ends SENT / SENT_PROOF, goes back to QUEUED (nothing was sent: breaker, rate
 *   limit, a sender's fault), FAILED (retrying), DEAD, or UNKNOWN (it may have been sent, or
 *   its worker died mid-send);
 * - UNKNOWN is resolved by an operator: SENT / SENT_PROOF, DEAD, or QUEUED (resend);
 * - DEAD is queued again (QUEUED) by `messages retry`.
 * Erasing a lead blanks its messages' content and changes no status.
 */
export const MESSAGE_TRANSITIONS = {
  PLANNED: ['QUEUED', 'PENDING_REVIEW'],
  PENDING_REVIEW: ['PENDING_REVIEW', 'QUEUED', 'REJECTED'],
  REJECTED: [],
  QUEUED: ['SENDING', 'SKIPPED'],
  SENDING: ['SENT', 'SENT_PROOF', 'QUEUED', 'FAILED', 'DEAD', 'UNKNOWN'],
  SENT: [],
  SENT_PROOF: [],
  FAILED: ['SENDING', 'SKIPPED'],
  DEAD: ['SENDING', 'SKIPPED', 'QUEUED'],
  SKIPPED: [],
  UNKNOWN: ['SENT', 'SENT_PROOF', 'DEAD', 'QUEUED'],
} as const satisfies TransitionTable<MessageStatus>;

/** The statuses a tick plans a message in: waiting for its LLM line, for review, for its send, or skipped at once. */
export const INITIAL_MESSAGE_STATUSES = ['PLANNED', 'PENDING_REVIEW', 'QUEUED', 'SKIPPED'] as const;

export type InitialMessageStatus = (typeof INITIAL_MESSAGE_STATUSES)[number];

/**
 * Statuses from which a send job may claim a message. DEAD is included because the only way a
 * DEAD message's job runs again is an operator retrying it (from Bull Board or the dead-letter view).
 */
export const SENDABLE_STATUSES = ['QUEUED', 'FAILED', 'DEAD'] as const;

/** Statuses whose send job should be in Redis: queued, or failed and waiting for its retry. */
export const WAITING_FOR_SEND_JOB_STATUSES = ['QUEUED', 'FAILED'] as const;

/** Statuses of a message the provider (or the proof ledger) has. */
export const DELIVERED_STATUSES = ['SENT', 'SENT_PROOF'] as const;

/** Statuses that wait for an operator: failed for good (retry), or outcome unknown (resolve). */
export const AWAITING_OPERATOR_STATUSES = ['DEAD', 'UNKNOWN'] as const;

/** Statuses no transition leaves. */
export const FINAL_STATUSES = ['REJECTED', 'SENT', 'SENT_PROOF', 'SKIPPED'] as const;

/** Statuses in which nothing more happens without an operator: final, or waiting for one. */
export const SETTLED_STATUSES = [...FINAL_STATUSES, ...AWAITING_OPERATOR_STATUSES] as const;

/** Campaign statuses in which a retried DEAD message may be queued again (COMPLETED is reopened). */
export const RETRYABLE_CAMPAIGN_STATUSES: readonly CampaignStatus[] = ['ACTIVE', 'PAUSED', 'COMPLETED'];

const declaredMoves: Array<Move<MessageStatus>> = [];

/** Declares a move this module makes, checked against the table (by type, and at load). */
function move<To extends MessageStatus>(from: ReadonlyArray<SourcesOf<typeof MESSAGE_TRANSITIONS, To>>, to: To): Move<MessageStatus> {
  const checked = checkedMove<MessageStatus>(MESSAGE_TRANSITIONS, from, to);
  declaredMoves.push(checked);
  return checked;
}

const moves = {
  release: move(['PLANNED'], 'QUEUED'),
  holdForReview: move(['PLANNED'], 'PENDING_REVIEW'),
  approve: move(['PENDING_REVIEW'], 'QUEUED'),
  reject: move(['PENDING_REVIEW'], 'REJECTED'),
  edit: move(['PENDING_REVIEW'], 'PENDING_REVIEW'),
  claim: move(SENDABLE_STATUSES, 'SENDING'),
  deliver: { SENT: move(['SENDING'], 'SENT'), SENT_PROOF: move(['SENDING'], 'SENT_PROOF') },
  skip: move(SENDABLE_STATUSES, 'SKIPPED'),
  sendFailed: {
    QUEUED: move(['SENDING'], 'QUEUED'),
    FAILED: move(['SENDING'], 'FAILED'),
    DEAD: move(['SENDING'], 'DEAD'),
    UNKNOWN: move(['SENDING'], 'UNKNOWN'),
  },
  resolve: {
    SENT: move(['UNKNOWN'], 'SENT'),
    SENT_PROOF: move(['UNKNOWN'], 'SENT_PROOF'),
    DEAD: move(['UNKNOWN'], 'DEAD'),
    QUEUED: move(['UNKNOWN'], 'QUEUED'),
  },
  requeueDead: move(['DEAD'], 'QUEUED'),
};

/** Every move the functions of this module make (a test checks they cover the table). */
export const MESSAGE_MOVES: ReadonlyArray<Move<MessageStatus>> = declaredMoves;

/** SQL: the kill switch is on (false when the setting was never written). */
export const killSwitchSql = `coalesce((SELECT (value->>'on')::boolean FROM settings WHERE key = 'kill_switch'), false)`;

/**
 * SQL for "the message's status is one of (a text[] parameter)", written so that no status
 * index can answer it. Statistics taken while nothing was queued or in flight count almost no
 * such rows; trusting them, the planner would read every queued or in-flight message for each
 * batch instead of finding the batch's rows by primary key.
 */
const statusAmongSql = `array_position(?::text[], m.status) IS NOT NULL`;

/** A message as a tick plans it: one row per (campaign, lead, step). */
export interface PlannedMessage {
  idempotency_key: string;
  campaign_id: number;
  lead_id: number;
  enrollment_id: number;
  step_index: number;
  channel: Channel;
  status: InitialMessageStatus;
  recipient: string | null;
  subject: string | null;
  body: string | null;
  format: BodyFormat;
  in_reply_to: string | null;
  thread_references: string | null;
  template_version_id: number | null;
  variant: string | null;
  /** How the variant was chosen (Thompson sampling: warm-up or the draws); null for the weighted hash. */
  variant_reason: string | null;
  /** Why a SKIPPED message is not sent. */
  skip_reason: string | null;
  /** Why a message held for review must be edited before it can be approved (placeholders found). */
  review_hold_reason: string | null;
  queued_at: Date | null;
}

/** What the tick needs back about each message it inserted. */
export type InsertedMessage = Pick<PlannedMessage, 'idempotency_key' | 'status' | 'channel' | 'step_index' | 'enrollment_id'> & { id: number };

/**
 * Plans a batch of messages in their first status, skipping those that exist (one per campaign,
 * lead and step: `ON CONFLICT DO NOTHING`), and returns the ones inserted. Columns travel as
 * arrays in one prepared statement: a thousand-row VALUES list would be eighteen thousand
 * parameters to bind and parse each time.
 */
export async function planMessages(trx: Knex, planned: readonly PlannedMessage[]): Promise<InsertedMessage[]> {
  if (planned.length === 0) return [];
  const column = (key: keyof PlannedMessage) => arrayBinding(planned.map((message) => message[key]));
  const { rows } = await trx
    .raw<{ rows: InsertedMessage[] }>(
      `INSERT INTO messages (idempotency_key, campaign_id, lead_id, enrollment_id, step_index, channel, status,
                             recipient, subject, body, format, in_reply_to, thread_references,
                             template_version_id, variant, variant_reason, skip_reason, review_hold_reason, queued_at)
       SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::int[], ?::text[], ?::text[],
                            ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
                            ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[])
       ON CONFLICT (campaign_id, lead_id, step_index) DO NOTHING
       RETURNING id, idempotency_key, status, channel, step_index, enrollment_id`,
      (
        [
          'idempotency_key',
          'campaign_id',
          'lead_id',
          'enrollment_id',
          'step_index',
          'channel',
          'status',
          'recipient',
          'subject',
          'body',
          'format',
          'in_reply_to',
          'thread_references',
          'template_version_id',
          'variant',
          'variant_reason',
          'skip_reason',
          'review_hold_reason',
          'queued_at',
        ] as const
      ).map(column),
    )
    .options(preparedAs('tick-insert-messages'));
  return rows;
}

/** A composed message's release: its body (with the LLM's line, or the plain template) and the fallback note, if any. */
export interface ComposedRelease {
  id: number;
  body: string;
  /** Why personalisation fell back (null when the line was written). */
  personalisationNote: string | null;
  now: Date;
}

async function releaseAs(db: Knex, step: Move<MessageStatus>, release: ComposedRelease, queuedAt: Date | null): Promise<boolean> {
  const updated = await db(MESSAGES)
    .where({ id: release.id })
    .whereIn('status', [...step.from])
    .update({ status: step.to, body: release.body, queued_at: queuedAt, personalisation_note: release.personalisationNote, updated_at: release.now });
  return updated === 1;
}

/** PLANNED → QUEUED: a composed message goes out (its send job is the caller's to add). Returns whether it was PLANNED. */
export async function releaseComposed(db: Knex, release: ComposedRelease): Promise<boolean> {
  return releaseAs(db, moves.release, release, release.now);
}

/** PLANNED → PENDING_REVIEW: a composed message waits for a reviewer. Returns whether it was PLANNED. */
export async function holdComposedForReview(db: Knex, release: ComposedRelease): Promise<boolean> {
  return releaseAs(db, moves.holdForReview, release, null);
}

/**
 * PENDING_REVIEW → QUEUED for each of `ids` still waiting, with who, when and the reviewer's
 * note; a hold reason goes. Returns the ids approved (their send jobs are the caller's to add
 * once the transaction commits).
 */
export async function approveReviewed(trx: Knex, ids: readonly number[], decision: { by: string; note: string | null; now: Date }): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = (await trx(MESSAGES)
    .whereIn('id', [...ids])
    .whereIn('status', [...moves.approve.from])
    .update({
      status: moves.approve.to,
      queued_at: decision.now,
      review_hold_reason: null,
      review_decided_by: decision.by,
      review_decided_at: decision.now,
      review_note: decision.note,
      updated_at: decision.now,
    })
    .returning('id')) as Array<{ id: number }>;
  return rows.map((row) => row.id);
}

/**
 * PENDING_REVIEW → PENDING_REVIEW with a reviewer's text; the hold reason goes (the caller has
 * checked the new text). Returns whether the message was still waiting.
 */
export async function editInReview(trx: Knex, edit: { id: number; subject: string | null; body: string; now: Date }): Promise<boolean> {
  const updated = await trx(MESSAGES)
    .where({ id: edit.id })
    .whereIn('status', [...moves.edit.from])
    .update({ status: moves.edit.to, subject: edit.subject, body: edit.body, review_hold_reason: null, updated_at: edit.now });
  return updated === 1;
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
    `UPDATE messages m SET status = '${moves.claim.to}', sending_at = ?, attempts = m.attempts + 1, updated_at = ?,
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
      [...moves.claim.from],
    ],
  ).options(preparedAs('claim-for-sending'));
  return new Set(rows.map((row) => row.id));
}

export interface Delivery {
  id: number;
  status: (typeof DELIVERED_STATUSES)[number];
  provider: string;
  externalId: string;
}

/**
 * Records many deliveries in one statement (SENDING → SENT or SENT_PROOF) and advances each
 * enrollment: to the next step (due at send time + its delay) or COMPLETED after the last. Only
 * SENDING messages change, and only enrollments still live and on that step. Returns the ids recorded.
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
      deliveries.map((delivery) => moves.deliver[delivery.status].to),
      deliveries.map((delivery) => delivery.provider),
      deliveries.map((delivery) => delivery.externalId),
      now,
      now,
      [...moves.deliver.SENT.from],
      now,
      now,
      now,
      now,
    ],
  ).options(preparedAs('record-deliveries'));
  return new Set(rows.map((row) => row.id));
}

/** A status change of one message, with the columns that go with it and its enrollment effect. */
interface Settlement {
  id: number;
  move: Move<MessageStatus>;
  now: Date;
  /** Note and decision columns written with the status. */
  columns?: Readonly<Record<string, string | Date>>;
  /** The adapter's error, kept as `last_error` (left as it was when absent). */
  error?: string;
  effect: EnrollmentEffect;
  /** Undoes the claim's attempt count (a failure that was not this message's). */
  giveBackAttempt?: boolean;
}

/** Moves one message (compare-and-set) and applies its enrollment effect, in one transaction. */
async function settle(db: Knex, change: Settlement): Promise<boolean> {
  return db.transaction(async (trx) => {
    const rows = (await trx(MESSAGES)
      .where({ id: change.id })
      .whereIn('status', [...change.move.from])
      .update({
        status: change.move.to,
        ...change.columns,
        ...(change.error === undefined ? {} : { last_error: change.error }),
        ...(change.giveBackAttempt === true ? { attempts: trx.raw('greatest(attempts - 1, 0)') } : {}),
        updated_at: change.now,
      })
      .returning(['id', 'enrollment_id', 'campaign_id', 'step_index'])) as SettledStep[];
    const message = rows[0];
    if (message === undefined) return false;
    await applyEnrollmentEffect(trx, message, change.effect, change.now);
    return true;
  });
}

/** A sendable message → SKIPPED by a gate, with the reason and its enrollment effect. Returns false when it was no longer sendable. */
export async function skipMessage(db: Knex, skip: { id: number; reason: string; now: Date; effect: EnrollmentEffect }): Promise<boolean> {
  return settle(db, { id: skip.id, move: moves.skip, now: skip.now, columns: { skip_reason: skip.reason }, effect: skip.effect });
}

/** Where a failed adapter call leaves its message: back to QUEUED (nothing sent), FAILED (retrying), DEAD or UNKNOWN. */
export type SendFailureStatus = keyof typeof moves.sendFailed;

/** SENDING → the status a failed call leaves it in, with the error and its enrollment effect. Returns false when it was not SENDING. */
export async function settleFailedSend(
  db: Knex,
  failure: { id: number; to: SendFailureStatus; error: string; now: Date; effect: EnrollmentEffect; giveBackAttempt?: boolean },
): Promise<boolean> {
  return settle(db, { id: failure.id, move: moves.sendFailed[failure.to], now: failure.now, error: failure.error, effect: failure.effect, giveBackAttempt: failure.giveBackAttempt });
}

/**
 * PENDING_REVIEW → REJECTED with who, when and the reviewer's reason, and its enrollment effect
 * (the lead skips the step, or ends). Returns false when it was no longer waiting.
 */
export async function rejectInReview(db: Knex, rejection: { id: number; by: string; reason: string; now: Date; effect: EnrollmentEffect }): Promise<boolean> {
  return settle(db, {
    id: rejection.id,
    move: moves.reject,
    now: rejection.now,
    columns: { rejection_reason: rejection.reason, review_decided_by: rejection.by, review_decided_at: rejection.now },
    effect: rejection.effect,
  });
}

/** What an operator found an UNKNOWN message to be. */
export type UnknownResolutionStatus = keyof typeof moves.resolve;

/** UNKNOWN → the status an operator settled on, with the resolution note and its enrollment effect. Returns false when it was not UNKNOWN. */
export async function resolveUnknown(
  db: Knex,
  resolution: { id: number; to: UnknownResolutionStatus; note: string; now: Date; effect: EnrollmentEffect },
): Promise<boolean> {
  return settle(db, { id: resolution.id, move: moves.resolve[resolution.to], now: resolution.now, columns: { resolution_note: resolution.note }, effect: resolution.effect });
}

/**
 * SENDING for longer than the cutoff → UNKNOWN, with why (its worker stopped mid-send: the
 * provider may or may not have it). Returns the ids marked.
 */
export async function markStaleSendingUnknown(db: Knex, stale: { sendingBefore: Date; error: string; now: Date }): Promise<number[]> {
  const { from, to } = moves.sendFailed.UNKNOWN;
  const rows = (await db(MESSAGES)
    .whereIn('status', [...from])
    .where('sending_at', '<', stale.sendingBefore)
    .update({ status: to, last_error: stale.error, updated_at: stale.now })
    .returning('id')) as Array<{ id: number }>;
  return rows.map((row) => row.id);
}

/** A DEAD message queued again, with whether its enrollment was reopened. */
export interface RequeuedMessage {
  id: number;
  idempotency_key: string;
  channel: Channel;
  campaign_id: number;
  reopened: boolean;
}

/**
 * Compare-and-set DEAD → QUEUED of many messages, for an operator's retry, in one statement:
 * only messages still DEAD, of a lead not suppressed, whose campaign still takes them and whose
 * enrollment still waits on them (or ended FAILED on them) change. A FAILED enrollment is
 * reopened to ACTIVE at that step, waiting for the message's outcome. Run it in a transaction;
 * the caller adds the send jobs after it commits.
 */
export async function requeueDeadMessages(db: Knex, ids: readonly number[], now: Date): Promise<RequeuedMessage[]> {
  const { rows } = await db.raw<{ rows: RequeuedMessage[] }>(
    `WITH candidate AS (
       SELECT m.id, m.enrollment_id
         FROM messages m
         JOIN campaign_leads cl ON cl.id = m.enrollment_id AND cl.current_step = m.step_index
         JOIN campaigns c ON c.id = m.campaign_id
         JOIN leads l ON l.id = m.lead_id
        WHERE m.id = ANY(?::bigint[]) AND m.status IN (${sqlWords(moves.requeueDead.from)})
          AND cl.state = ANY(?::text[]) AND c.status = ANY(?::text[])
          AND NOT ${suppressedLeadSql('m.campaign_id')}
        FOR UPDATE OF m, cl
     ), requeued AS (
       UPDATE messages m SET status = '${moves.requeueDead.to}', queued_at = ?, updated_at = ?
         FROM candidate
        WHERE m.id = candidate.id
        RETURNING m.id, m.idempotency_key, m.channel, m.campaign_id, m.enrollment_id
     ), reopened AS (
       ${reopenEnrollmentsSql('requeued')}
     )
     SELECT r.id, r.idempotency_key, r.channel, r.campaign_id, EXISTS (SELECT 1 FROM reopened o WHERE o.id = r.enrollment_id) AS reopened
       FROM requeued r
      ORDER BY r.id`,
    [[...ids], [...REOPENABLE_ENROLLMENT_STATES], [...RETRYABLE_CAMPAIGN_STATUSES], now, now, now],
  );
  return rows;
}

/** Anything shaped like an address inside a provider's error text (`550 <sean@x.org>: unknown user`). */
const ADDRESS_IN_TEXT = `[^[:space:]<>"'(),;:]+@[^[:space:]<>"'(),;:]+`;

/**
 * Erases the personal content of a lead's messages (recipient, subject, body, addresses quoted in
 * the provider's error, reviewers' free text), whatever their status, which stays: the record of
 * what happened remains, without what it said or to whom. Returns the ids of the messages erased.
 */
export async function eraseMessageContent(db: Knex, leadId: number, now: Date): Promise<number[]> {
  const rows = (await db(MESSAGES)
    .where({ lead_id: leadId })
    .update({
      recipient: null,
      subject: null,
      body: null,
      last_error: db.raw(`regexp_replace(last_error, ?, '[erased address]', 'g')`, [ADDRESS_IN_TEXT]),
      // A reviewer may have written about the person; the decision itself stays in the status.
      review_note: db.raw(`CASE WHEN review_note IS NULL THEN NULL ELSE '[erased]' END`),
      rejection_reason: db.raw(`CASE WHEN rejection_reason IS NULL THEN NULL ELSE '[erased]' END`),
      updated_at: now,
    })
    .returning('id')) as Array<{ id: number }>;
  return rows.map((row) => row.id);
}
