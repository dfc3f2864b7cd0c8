import type { Knex } from 'knex';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { Channel } from '../core/channels.js';
import { enqueueSends } from '../messages/enqueue-sends.js';
import { approveReviewed, editInReview, MESSAGES, rejectInReview } from '../messages/message-lifecycle.js';
import type { EnrollmentEffect } from '../enrollments/enrollment-lifecycle.js';
import { DomainError, type DomainErrorKind } from '../core/domain-error.js';
import { describePlaceholders, findPlaceholders } from '../templates/placeholders.js';
import type { BodyFormat } from '../core/message-body.js';

/** A review request that cannot be applied; `kind` maps to 404, 409 or 400. */
export class ReviewError extends DomainError {
  constructor(message: string, kind: Extract<DomainErrorKind, 'not-found' | 'conflict' | 'invalid'>) {
    super(message, kind);
  }
}

/** A message waiting for a human, with the exact text that would be sent. */
export interface PendingMessage {
  id: number;
  campaignId: number;
  campaignName: string;
  leadId: number;
  leadEmail: string | null;
  /** 1-based, as operators count steps. */
  step: number;
  channel: Channel;
  recipient: string | null;
  /** The subject that will be sent (a follow-up's `Re: …` included). */
  subject: string | null;
  body: string | null;
  /** What `body` is; an edit is in the same format. */
  format: BodyFormat;
  variant: string | null;
  templateVersionId: number | null;
  /** Why it is held beyond review itself (e.g. placeholders found): it must be edited before approval. */
  heldReason: string | null;
  createdAt: Date;
}

/** The outcome of an approve or reject over many ids: what changed and what was refused, with why. */
export interface ReviewOutcome {
  done: number[];
  refused: Array<{ id: number; reason: string }>;
  /** Send jobs added after the approval committed. */
  enqueued: number;
}

export const reviewEditSchema = z
  .object({
    subject: z
      .string()
      .refine((value) => !/[\r\n]/.test(value), 'subject may not contain line breaks')
      .nullable()
      .optional(),
    body: z.string().refine((value) => value.trim() !== '', 'body may not be empty'),
  })
  .strict();
export type ReviewEdit = z.infer<typeof reviewEditSchema>;

interface ReviewRow {
  id: number;
  idempotency_key: string;
  status: string;
  channel: Channel;
  campaign_id: number;
  lead_id: number;
  subject: string | null;
  body: string | null;
}

export interface ReviewServiceDeps {
  db: Knex;
  queues: QueueRegistry;
  config: Pick<Config, 'SEND_ATTEMPTS' | 'SEND_BACKOFF'>;
  clock: Clock;
  log: Logger;
}

/**
 * Per-message human review. Approval is a compare-and-set PENDING_REVIEW → QUEUED (with who,
 * when and note) whose send jobs are added only after it commits; every send gate still applies
 * at send time. Rejection moves the enrollment on (next step, or ends it, per the campaign's
 * `on_reject`). Edits are re-checked for placeholders. Each decision is also written to the
 * lead's timeline (`contact_events`).
 */
export function reviewService({ db, queues, config, clock, log }: ReviewServiceDeps) {
  async function audit(trx: Knex, rows: ReviewRow[], type: string, data: Record<string, unknown>, now: Date): Promise<void> {
    if (rows.length === 0) return;
    await trx('contact_events').insert(
      rows.map((row) => ({ lead_id: row.lead_id, campaign_id: row.campaign_id, message_id: row.id, type, data: JSON.stringify(data), occurred_at: now })),
    );
  }

  async function lockPending(trx: Knex, ids: readonly number[]): Promise<{ pending: ReviewRow[]; refused: ReviewOutcome['refused'] }> {
    const rows = (await trx(MESSAGES)
      .whereIn('id', [...ids])
      .forUpdate()
      .select('id', 'idempotency_key', 'status', 'channel', 'campaign_id', 'lead_id', 'subject', 'body')) as ReviewRow[];
    const found = new Map(rows.map((row) => [row.id, row]));
    const refused: ReviewOutcome['refused'] = [];
    const pending: ReviewRow[] = [];
    for (const id of new Set(ids)) {
      const row = found.get(id);
      if (row === undefined) refused.push({ id, reason: 'no such message' });
      else if (row.status !== 'PENDING_REVIEW') refused.push({ id, reason: `message is ${row.status}, not PENDING_REVIEW` });
      else pending.push(row);
    }
    return { pending, refused };
  }

  const service = {
    /** How many messages wait for review (the number the console's navigation shows). */
    async countWaiting(): Promise<number> {
      const row = (await db(MESSAGES).where('status', 'PENDING_REVIEW').count<{ count: string }>('* as count').first()) as { count: string } | undefined;
      return Number(row?.count ?? 0);
    },

    /** Messages waiting for review, oldest first (keyset pagination by id). */
    async list(filter: { campaignId?: number; afterId?: number; limit?: number } = {}): Promise<PendingMessage[]> {
      const query = db(`${MESSAGES} as m`)
        .join('leads as l', 'l.id', 'm.lead_id')
        .join('campaigns as c', 'c.id', 'm.campaign_id')
        .where('m.status', 'PENDING_REVIEW')
        .where('m.id', '>', filter.afterId ?? 0)
        .orderBy('m.id')
        .limit(Math.min(filter.limit ?? 100, 1000))
        .select(
          'm.id',
          'm.campaign_id',
          'c.name as campaign_name',
          'm.lead_id',
          'l.email as lead_email',
          'm.step_index',
          'm.channel',
          'm.recipient',
          'm.subject',
          'm.body',
          'm.format',
          'm.variant',
          'm.template_version_id',
          'm.review_hold_reason',
          'm.created_at',
        );
      if (filter.campaignId !== undefined) void query.where('m.campaign_id', filter.campaignId);
      const rows = (await query) as Array<{
        id: number;
        campaign_id: number;
        campaign_name: string;
        lead_id: number;
        lead_email: string | null;
        step_index: number;
        channel: Channel;
        recipient: string | null;
        subject: string | null;
        body: string | null;
        format: BodyFormat;
        variant: string | null;
        template_version_id: number | null;
        review_hold_reason: string | null;
        created_at: Date;
      }>;
      return rows.map((row) => ({
        id: row.id,
        campaignId: row.campaign_id,
        campaignName: row.campaign_name,
        leadId: row.lead_id,
        leadEmail: row.lead_email,
        step: row.step_index + 1,
        channel: row.channel,
        recipient: row.recipient,
        subject: row.subject,
        body: row.body,
        format: row.format,
        variant: row.variant,
        templateVersionId: row.template_version_id,
        heldReason: row.review_hold_reason,
        createdAt: row.created_at,
      }));
    },

    /**
     * Approves messages: each still PENDING_REVIEW and free of placeholders becomes QUEUED with
     * who/when/note; after the commit their send jobs are added at once.
     */
    async approve(ids: readonly number[], decision: { by: string; note?: string | null }): Promise<ReviewOutcome> {
      const now = clock.now();
      const { approved, refused } = await db.transaction(async (trx) => {
        const { pending, refused } = await lockPending(trx, ids);
        const approved: ReviewRow[] = [];
        for (const row of pending) {
          const hits = findPlaceholders({ subject: row.subject, body: row.body });
          if (row.body === null) refused.push({ id: row.id, reason: 'message has no text' });
          else if (hits.length > 0) refused.push({ id: row.id, reason: `${describePlaceholders(hits)}; edit it first` });
          else approved.push(row);
        }
        if (approved.length > 0) {
          await approveReviewed(
            trx,
            approved.map((row) => row.id),
            { by: decision.by, note: decision.note ?? null, now },
          );
          await audit(trx, approved, 'review.approved', { by: decision.by, note: decision.note ?? null }, now);
        }
        return { approved, refused };
      });
      // After the commit: a job never runs ahead of the row that allows it.
      const enqueued = await enqueueSends(queues, config, approved);
      if (approved.length > 0) log.info({ by: decision.by, approved: approved.length }, 'messages approved');
      return { done: approved.map((row) => row.id), refused, enqueued };
    },

    /** Approves every PENDING_REVIEW message of a campaign, page by page. */
    async approveCampaign(campaignId: number, decision: { by: string; note?: string | null }): Promise<ReviewOutcome> {
      const total: ReviewOutcome = { done: [], refused: [], enqueued: 0 };
      let afterId = 0;
      for (;;) {
        const page = await service.list({ campaignId, afterId, limit: 500 });
        if (page.length === 0) return total;
        afterId = page[page.length - 1]?.id ?? afterId;
        const outcome = await service.approve(
          page.map((message) => message.id),
          decision,
        );
        total.done.push(...outcome.done);
        total.refused.push(...outcome.refused);
        total.enqueued += outcome.enqueued;
      }
    },

    /**
     * Rejects messages: REJECTED with who/when/reason, never sent. The lead skips that step
     * (`SKIP_STEP`) or its enrollment ends (`END_LEAD`), per the campaign.
     */
    async reject(ids: readonly number[], decision: { by: string; reason: string }): Promise<ReviewOutcome> {
      if (decision.reason.trim() === '') throw new ReviewError('a rejection needs a reason', 'invalid');
      const now = clock.now();
      return db.transaction(async (trx) => {
        const { pending, refused } = await lockPending(trx, ids);
        const policies = new Map(
          ((await trx('campaigns')
            .whereIn('id', [...new Set(pending.map((row) => row.campaign_id))])
            .select('id', 'on_reject')) as Array<{ id: number; on_reject: 'SKIP_STEP' | 'END_LEAD' }>).map((row) => [row.id, row.on_reject]),
        );
        for (const row of pending) {
          const effect: EnrollmentEffect =
            policies.get(row.campaign_id) === 'END_LEAD'
              ? { kind: 'end', state: 'COMPLETED', reason: `rejected in review: ${decision.reason}` }
              : { kind: 'advance' };
          await rejectInReview(trx, { id: row.id, by: decision.by, reason: decision.reason, now, effect });
        }
        await audit(trx, pending, 'review.rejected', { by: decision.by, reason: decision.reason }, now);
        if (pending.length > 0) log.info({ by: decision.by, rejected: pending.length }, 'messages rejected');
        return { done: pending.map((row) => row.id), refused, enqueued: 0 };
      });
    },

    /**
     * Replaces the text of a PENDING_REVIEW message. The new text is checked for placeholders
     * first; if any is found nothing changes. The message stays PENDING_REVIEW until approved.
     */
    async edit(id: number, input: ReviewEdit, by: string): Promise<PendingMessage> {
      const edit = reviewEditSchema.parse(input);
      const now = clock.now();
      await db.transaction(async (trx) => {
        const { pending, refused } = await lockPending(trx, [id]);
        const row = pending[0];
        if (row === undefined) {
          const reason = refused[0]?.reason ?? 'no such message';
          throw new ReviewError(`message ${id}: ${reason}`, reason === 'no such message' ? 'not-found' : 'conflict');
        }
        const subject = edit.subject === undefined ? row.subject : edit.subject;
        if (row.channel !== 'email' && subject !== null) throw new ReviewError(`a ${row.channel} message has no subject`, 'invalid');
        if (row.channel === 'email' && (subject ?? '').trim() === '') throw new ReviewError('an email needs a subject', 'invalid');
        const hits = findPlaceholders({ subject, body: edit.body });
        if (hits.length > 0) throw new ReviewError(`edit refused: ${describePlaceholders(hits)}`, 'invalid');
        await editInReview(trx, { id, subject, body: edit.body, now });
        await audit(trx, [row], 'review.edited', { by, previous: { subject: row.subject, body: row.body } }, now);
      });
      const [edited] = await service.list({ afterId: id - 1, limit: 1 });
      if (edited?.id !== id) throw new ReviewError(`message ${id} left review meanwhile`, 'conflict');
      return edited;
    },
  };
  return service;
}

export type ReviewService = ReturnType<typeof reviewService>;
