import { sendQueues } from '../../queues/index.js';
import { nextWindowOpening } from '../campaigns/send-window.js';
import { findCampaign } from '../campaigns/campaign-store.js';
import { campaignGate } from '../orchestration/campaign-gate.js';
import { readKillSwitch } from '../settings/kill-switch.js';
import { sqlWords } from '../db/bindings.js';
import { LIVE_ENROLLMENT_STATES } from '../enrollments/enrollment-lifecycle.js';
import { DELIVERED_STATUSES } from '../messages/message-lifecycle.js';
import type { AppContext } from './context.js';

/** What waits in one ACTIVE or PAUSED campaign, counted from Postgres. */
interface CampaignBacklog {
  id: number;
  status: 'ACTIVE' | 'PAUSED';
  /** Enrollments whose next step is not due yet, and when the first one is. */
  delayed: number;
  next_due: Date | null;
  /** Enrollments due now for which no message exists yet. */
  due: number;
  /** Messages queued (or approved) but not sent. */
  queued: number;
  /** Messages waiting for a reviewer. */
  review: number;
}

function at(instant: Date): string {
  return instant.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The earliest time a held send job runs again (window, cap, breaker or pause), if any. */
async function earliestHeldSend(ctx: AppContext): Promise<Date | undefined> {
  let earliest: number | undefined;
  for (const definition of Object.values(sendQueues)) {
    const [first] = await ctx.queues.get(definition).getJobs(['delayed'], 0, 0, true);
    if (first !== undefined) earliest = Math.min(earliest ?? Infinity, first.timestamp + first.delay);
  }
  return earliest === undefined ? undefined : new Date(earliest);
}

/**
 * What still waits, campaign by campaign, and until when: step delays, paused campaigns, send
 * windows and daily caps (as the campaign's tick would decide now, the kill switch aside: it
 * has its own part), sends held by a lead's own window, a cap or a breaker, and review.
 */
async function whatWaits(ctx: AppContext, backlog: readonly CampaignBacklog[], now: Date): Promise<string[]> {
  const waiting: string[] = [];
  let review = 0;
  let heldElsewhere = 0;
  for (const campaign of backlog) {
    review += campaign.review;
    const pending = campaign.due + campaign.queued;
    if (campaign.status === 'PAUSED') {
      if (pending + campaign.delayed > 0) waiting.push(`${pending + campaign.delayed} in PAUSED campaign ${campaign.id} until it is resumed`);
      continue;
    }
    if (campaign.delayed > 0 && campaign.next_due !== null) {
      waiting.push(`${campaign.delayed} lead(s) of campaign ${campaign.id} on a step delay, the next due ${at(campaign.next_due)}`);
    }
    if (pending === 0) continue;
    const found = await findCampaign(ctx.db, campaign.id);
    if (found === undefined) continue;
    // What holds it beyond the kill switch, which has a part of its own.
    const gate = await campaignGate(ctx, found, now, { killSwitchOn: false });
    if (gate.kind === 'outside-window') {
      waiting.push(`${pending} of campaign ${campaign.id} outside its send window until ${at(nextWindowOpening(now, found.timezone, found.sendWindow))}`);
    } else if (gate.kind === 'capped') {
      waiting.push(`${pending} of campaign ${campaign.id} held by a daily cap until ${at(gate.until)}`);
    } else heldElsewhere += pending;
  }
  if (heldElsewhere > 0) {
    const until = await earliestHeldSend(ctx);
    waiting.push(`${heldElsewhere} held (a lead's own send window, a cap or a circuit breaker)${until === undefined ? '' : `, the next try ${at(until)}`}`);
  }
  if (review > 0) waiting.push(`${review} waiting for review (drumbeat review list)`);
  return waiting;
}

/**
 * The one line `worker --until-idle` ends with: what this run sent (since `since`), what still
 * waits and until when (step delays, send windows, daily caps, paused campaigns, review), and
 * whether the kill switch holds everything.
 */
export async function describeIdle(ctx: AppContext, since: Date): Promise<string> {
  const now = ctx.clock.now();
  const { rows: [run] } = await ctx.db.raw<{ rows: Array<{ sent: number; dead: number; skipped: number }> }>(
    `SELECT count(*) FILTER (WHERE status IN (${sqlWords(DELIVERED_STATUSES)}) AND sent_at >= ?)::int AS sent,
            count(*) FILTER (WHERE status = 'DEAD' AND updated_at >= ?)::int AS dead,
            count(*) FILTER (WHERE status = 'SKIPPED' AND updated_at >= ?)::int AS skipped
       FROM messages`,
    [since, since, since],
  );
  const live = sqlWords(LIVE_ENROLLMENT_STATES);
  const { rows: backlog } = await ctx.db.raw<{ rows: CampaignBacklog[] }>(
    `SELECT c.id, c.status,
            (SELECT count(*)::int FROM campaign_leads cl WHERE cl.campaign_id = c.id AND cl.state IN (${live}) AND cl.next_action_at > ?) AS delayed,
            (SELECT min(cl.next_action_at) FROM campaign_leads cl WHERE cl.campaign_id = c.id AND cl.state IN (${live}) AND cl.next_action_at > ?) AS next_due,
            (SELECT count(*)::int FROM campaign_leads cl WHERE cl.campaign_id = c.id AND cl.state IN (${live}) AND cl.next_action_at <= ?) AS due,
            (SELECT count(*)::int FROM messages m WHERE m.campaign_id = c.id AND m.status = 'QUEUED') AS queued,
            (SELECT count(*)::int FROM messages m WHERE m.campaign_id = c.id AND m.status = 'PENDING_REVIEW') AS review
       FROM campaigns c
      WHERE c.status IN ('ACTIVE', 'PAUSED')
      ORDER BY c.id`,
    [now, now, now],
  );
  const waiting = await whatWaits(ctx, backlog, now);

  const parts: string[] = [];
  if ((await readKillSwitch(ctx.db)).on) parts.push('kill switch is ON: nothing is sent until "drumbeat kill off"');
  const outcome = [`sent ${run?.sent ?? 0} this run`];
  if ((run?.skipped ?? 0) > 0) outcome.push(`skipped ${run?.skipped}`);
  if ((run?.dead ?? 0) > 0) outcome.push(`failed for good ${run?.dead} (drumbeat messages dead)`);
  parts.push(outcome.join(', '));
  parts.push(waiting.length === 0 ? 'nothing waits' : `waiting: ${waiting.join('; ')}`);
  return parts.join('; ');
}
