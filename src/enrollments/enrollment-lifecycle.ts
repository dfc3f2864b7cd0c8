import type { Knex } from 'knex';
import { checkedMove, type Move, type SourcesOf, type TransitionTable } from '../core/transition-table.js';
import { preparedAs, sqlWords } from '../db/bindings.js';
import { segmentLabelSql } from '../segments/segment-rules.js';
import { campaignSegments } from '../segments/segment-store.js';

/**
 * The enrollment state machine (a lead in a campaign, a `campaign_leads` row) and the only
 * functions that write `campaign_leads`. Every state change is a compare-and-set from the
 * states the transition table allows; everyone else calls these.
 */

export const CAMPAIGN_LEADS = 'campaign_leads';

/** Every state of an enrollment: live (NEW, ACTIVE), then how it ended. */
export const ENROLLMENT_STATES = ['NEW', 'ACTIVE', 'COMPLETED', 'REPLIED', 'BOUNCED', 'UNSUBSCRIBED', 'SUPPRESSED', 'FAILED'] as const;

export type EnrollmentState = (typeof ENROLLMENT_STATES)[number];

/** The states in which the sequence may still send: due for a step, or waiting on its message. */
export const LIVE_ENROLLMENT_STATES = ['NEW', 'ACTIVE'] as const;

/** The states an enrollment ends in; only FAILED is ever left again (a retried DEAD message reopens it). */
export const ENDED_ENROLLMENT_STATES = ['COMPLETED', 'REPLIED', 'BOUNCED', 'UNSUBSCRIBED', 'SUPPRESSED', 'FAILED'] as const;

export type EndedEnrollmentState = (typeof ENDED_ENROLLMENT_STATES)[number];

/**
 * Enrollment states from which a retried DEAD message may run again: still waiting on it (NEW,
 * ACTIVE), or ended by it (FAILED, e.g. an UNKNOWN message resolved as failed). Every other
 * ending (REPLIED, BOUNCED, UNSUBSCRIBED, SUPPRESSED, COMPLETED) is the lead's own and stays.
 */
export const REOPENABLE_ENROLLMENT_STATES = ['NEW', 'ACTIVE', 'FAILED'] as const;

/**
 * Which state may follow which. A live enrollment moves to ACTIVE at its next step (NEW → ACTIVE,
 * ACTIVE → ACTIVE) or ends; an ended one stays ended, except FAILED → ACTIVE when the DEAD
 * message it ended on is retried. Taking an enrollment for a tick, counting its soft bounces and
 * erasing a lead change no state.
 */
export const ENROLLMENT_TRANSITIONS = {
  NEW: ['ACTIVE', 'COMPLETED', 'REPLIED', 'BOUNCED', 'UNSUBSCRIBED', 'SUPPRESSED', 'FAILED'],
  ACTIVE: ['ACTIVE', 'COMPLETED', 'REPLIED', 'BOUNCED', 'UNSUBSCRIBED', 'SUPPRESSED', 'FAILED'],
  COMPLETED: [],
  REPLIED: [],
  BOUNCED: [],
  UNSUBSCRIBED: [],
  SUPPRESSED: [],
  FAILED: ['ACTIVE'],
} as const satisfies TransitionTable<EnrollmentState>;

const declaredMoves: Array<Move<EnrollmentState>> = [];

/** Declares a move this module makes, checked against the table (by type, and at load). */
function move<To extends EnrollmentState>(from: ReadonlyArray<SourcesOf<typeof ENROLLMENT_TRANSITIONS, To>>, to: To): Move<EnrollmentState> {
  const checked = checkedMove<EnrollmentState>(ENROLLMENT_TRANSITIONS, from, to);
  declaredMoves.push(checked);
  return checked;
}

const moves = {
  toNextStep: move(LIVE_ENROLLMENT_STATES, 'ACTIVE'),
  pastLastStep: move(LIVE_ENROLLMENT_STATES, 'COMPLETED'),
  end: Object.fromEntries(ENDED_ENROLLMENT_STATES.map((state) => [state, move(LIVE_ENROLLMENT_STATES, state)])) as Record<EndedEnrollmentState, Move<EnrollmentState>>,
  reopen: move(['FAILED'], 'ACTIVE'),
};

/** Every move the functions of this module make (a test checks they cover the table). */
export const ENROLLMENT_MOVES: ReadonlyArray<Move<EnrollmentState>> = declaredMoves;

/**
 * Enrolls leads in a campaign, once each (`ON CONFLICT DO NOTHING` on campaign + lead); the
 * first step is due `firstDelayMs` after enrollment. Each is labelled with the first of the
 * campaign's segments (in its spec's order) whose conditions it meets, else none; the label is
 * for learning and reports and does not decide who is enrolled. Returns how many were newly enrolled.
 */
export async function enrollLeads(
  db: Knex,
  campaignId: number,
  leadIds: readonly number[],
  firstDelayMs: number,
  now: Date,
  importBatchId: number | null = null,
): Promise<number> {
  if (leadIds.length === 0) return 0;
  const dueAt = new Date(now.getTime() + firstDelayMs);
  const segments = await campaignSegments(db, campaignId);
  if (segments.length === 0) {
    const result = await db.raw<{ rowCount: number }>(
      `INSERT INTO campaign_leads (campaign_id, lead_id, state, current_step, next_action_at, enrolled_at, updated_at, import_batch_id)
       SELECT ?, lead_id, 'NEW', 0, ?::timestamptz, ?::timestamptz, ?::timestamptz, ? FROM unnest(?::bigint[]) AS lead_id
       ON CONFLICT (campaign_id, lead_id) DO NOTHING`,
      [campaignId, dueAt, now, now, importBatchId, [...leadIds]],
    );
    return result.rowCount;
  }
  const label = segmentLabelSql(segments, 'l');
  const result = await db.raw<{ rowCount: number }>(
    `INSERT INTO campaign_leads (campaign_id, lead_id, state, current_step, next_action_at, enrolled_at, updated_at, import_batch_id, segment)
     SELECT ?, l.id, 'NEW', 0, ?::timestamptz, ?::timestamptz, ?::timestamptz, ?, ${label.sql}
       FROM unnest(?::bigint[]) AS enrolled(lead_id) JOIN leads l ON l.id = enrolled.lead_id
     ON CONFLICT (campaign_id, lead_id) DO NOTHING`,
    [campaignId, dueAt, now, now, importBatchId, ...(label.bindings as Knex.RawBinding[]), [...leadIds]],
  );
  return result.rowCount;
}

/**
 * Takes enrollments selected (and locked) by a tick out of the due index: each waits for the
 * outcome of the message the tick writes for it. Its state does not change.
 */
export async function takeForTick(trx: Knex, enrollmentIds: readonly number[], now: Date): Promise<void> {
  await trx
    .raw(`UPDATE campaign_leads SET next_action_at = NULL, updated_at = ? WHERE id = ANY(?::bigint[])`, [now, [...enrollmentIds]])
    .options(preparedAs('tick-take-enrollments'));
}

/**
 * SQL of an UPDATE that moves the enrollments of the rows in CTE `source` (id, enrollment_id,
 * campaign_id, step_index) past that step: to the next step (ACTIVE, due after its delay) or,
 * after the last, COMPLETED. Only live enrollments still on that step change. A fragment, so
 * that the statement recording a batch of outcomes stays one statement. Takes four parameters:
 * the time the next delay counts from, ended_at, last_sent_at and updated_at.
 */
export function advanceEnrollmentsSql(source: string): string {
  return `UPDATE campaign_leads cl
             SET current_step = src.step_index + 1,
                 state = CASE WHEN ns.step_index IS NULL THEN '${moves.pastLastStep.to}' ELSE '${moves.toNextStep.to}' END,
                 next_action_at = CASE WHEN ns.step_index IS NULL THEN NULL
                                       ELSE ?::timestamptz + ns.delay_ms * interval '1 millisecond' END,
                 ended_at = CASE WHEN ns.step_index IS NULL THEN ?::timestamptz ELSE NULL END,
                 last_sent_at = coalesce(?::timestamptz, cl.last_sent_at), updated_at = ?::timestamptz
            FROM ${source} src
            LEFT JOIN campaign_steps ns ON ns.campaign_id = src.campaign_id AND ns.step_index = src.step_index + 1
           WHERE cl.id = src.enrollment_id AND cl.state IN (${sqlWords(moves.toNextStep.from)}) AND cl.current_step = src.step_index
           RETURNING cl.id`;
}

/**
 * SQL of an UPDATE that reopens, at the step they ended on, the FAILED enrollments of the rows
 * in CTE `source` (enrollment_id): ACTIVE again, waiting for that step's message. A fragment,
 * so that requeueing DEAD messages stays one statement. Takes one parameter: updated_at.
 */
export function reopenEnrollmentsSql(source: string): string {
  return `UPDATE campaign_leads cl SET state = '${moves.reopen.to}', end_reason = NULL, ended_at = NULL, next_action_at = NULL, updated_at = ?
         FROM ${source}
        WHERE cl.id = ${source}.enrollment_id AND cl.state IN (${sqlWords(moves.reopen.from)})
        RETURNING cl.id`;
}

/** What happens to the lead's enrollment when its message ends without being sent, or is settled by hand. */
export type EnrollmentEffect = { kind: 'none' } | { kind: 'advance' } | { kind: 'end'; state: EndedEnrollmentState; reason: string };

/** The message whose outcome moves an enrollment: which enrollment, campaign and step. */
export interface SettledStep {
  id: number;
  enrollment_id: number;
  campaign_id: number;
  step_index: number;
}

/** Applies an effect to the enrollment of a settled message, in the caller's transaction. */
export async function applyEnrollmentEffect(trx: Knex, settled: SettledStep, effect: EnrollmentEffect, now: Date): Promise<void> {
  if (effect.kind === 'advance') {
    await trx.raw(
      `WITH src AS (SELECT ?::bigint AS id, ?::bigint AS enrollment_id, ?::bigint AS campaign_id, ?::int AS step_index)
       ${advanceEnrollmentsSql('src')}`,
      [settled.id, settled.enrollment_id, settled.campaign_id, settled.step_index, now, now, null, now],
    );
  } else if (effect.kind === 'end') {
    await endEnrollments(trx, { ids: [settled.enrollment_id], state: effect.state, reason: effect.reason, now });
  }
}

/**
 * Ends live enrollments by id with a final state and reason (none for a sequence that simply
 * ran out of steps): a compare-and-set from NEW/ACTIVE. Returns how many changed.
 */
export async function endEnrollments(
  db: Knex,
  change: { ids: readonly number[]; state: EndedEnrollmentState; reason: string | null; now: Date },
): Promise<number> {
  const { from, to } = moves.end[change.state];
  return db(CAMPAIGN_LEADS)
    .whereIn('id', [...change.ids])
    .whereIn('state', [...from])
    .update({ state: to, end_reason: change.reason, ended_at: change.now, next_action_at: null, updated_at: change.now });
}

/** Ends every live enrollment of a lead (compare-and-set from NEW/ACTIVE); returns how many changed. */
async function endLiveEnrollmentsOfLead(db: Knex, leadId: number, state: EndedEnrollmentState, reason: string, now: Date): Promise<number> {
  const { from, to } = moves.end[state];
  return db(CAMPAIGN_LEADS)
    .where({ lead_id: leadId })
    .whereIn('state', [...from])
    .update({ state: to, end_reason: reason, ended_at: now, next_action_at: null, updated_at: now });
}

/**
 * Marks a lead's enrollment in a campaign REPLIED: the sequence stops for it, and any message
 * already queued for a stop-on-reply step is skipped by the send gate. Returns whether a live
 * enrollment changed.
 */
export async function markReplied(db: Knex, campaignId: number, leadId: number, now: Date): Promise<boolean> {
  const { from, to } = moves.end.REPLIED;
  const changed = await db(CAMPAIGN_LEADS)
    .where({ campaign_id: campaignId, lead_id: leadId })
    .whereIn('state', [...from])
    .update({ state: to, end_reason: 'replied', ended_at: now, next_action_at: null, updated_at: now });
  return changed === 1;
}

/**
 * Ends every live enrollment of a lead who opted out (UNSUBSCRIBED) or whose address bounced
 * (BOUNCED), with the reason: a compare-and-set from NEW/ACTIVE, so an ended enrollment never
 * moves again. Returns how many changed.
 */
export async function markOptedOut(
  db: Knex,
  change: { leadId: number; state: Extract<EndedEnrollmentState, 'UNSUBSCRIBED' | 'BOUNCED'>; reason: string; now: Date },
): Promise<number> {
  return endLiveEnrollmentsOfLead(db, change.leadId, change.state, change.reason, change.now);
}

/**
 * The enrollments' part of erasing a lead: every live one ends SUPPRESSED (reason `erased`);
 * the ended ones keep their state. Returns how many ended.
 */
export async function eraseEnrollments(db: Knex, leadId: number, now: Date): Promise<number> {
  return endLiveEnrollmentsOfLead(db, leadId, 'SUPPRESSED', 'erased', now);
}

/** Copies a lead's count of soft bounces in a row to its live enrollments, for operators to see. */
export async function recordSoftBounces(db: Knex, leadId: number, count: number, now: Date): Promise<void> {
  await db(CAMPAIGN_LEADS)
    .where({ lead_id: leadId })
    .whereIn('state', [...LIVE_ENROLLMENT_STATES])
    .update({ soft_bounces: count, updated_at: now });
}
