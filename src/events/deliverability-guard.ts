import type { Knex } from 'knex';
import type { GuardSettings } from '../campaigns/campaign-spec.js';
import type { GuardBreach } from './guard-event-store.js';

/** The guard's rolling window. */
export const GUARD_WINDOW_DAYS = 7;

/** What the guard reads about one campaign over the window. */
export interface DeliverabilityReading {
  guard: GuardSettings;
  sends: number;
  hardBounces: number;
  complaints: number;
}

/**
 * One query, on two partial indexes: the guard settings of an ACTIVE LIVE campaign whose guard
 * is on, with its email sends, hard-bounced addresses and complaining addresses since `since`
 * (timeline types `bounced_hard` and `complained`, as the event service records them).
 * Undefined when the campaign is not guarded now (PROOF, not ACTIVE, `guard: off`).
 */
export async function readDeliverability(db: Knex, campaignId: number, since: Date): Promise<DeliverabilityReading | undefined> {
  const { rows } = await db.raw<{ rows: Array<{ guard: GuardSettings; sends: number; hard_bounces: number; complaints: number }> }>(
    `SELECT c.guard,
            (SELECT count(*)::int FROM messages m
              WHERE m.campaign_id = c.id AND m.status = 'SENT' AND m.channel = 'email' AND m.sent_at >= :since) AS sends,
            (SELECT count(DISTINCT e.lead_id)::int FROM contact_events e
              WHERE e.campaign_id = c.id AND e.type = 'bounced_hard' AND e.occurred_at >= :since) AS hard_bounces,
            (SELECT count(DISTINCT e.lead_id)::int FROM contact_events e
              WHERE e.campaign_id = c.id AND e.type = 'complained' AND e.occurred_at >= :since) AS complaints
       FROM campaigns c
      WHERE c.id = :campaignId AND c.status = 'ACTIVE' AND c.mode = 'LIVE' AND c.guard IS NOT NULL`,
    { since, campaignId },
  );
  const row = rows[0];
  return row === undefined ? undefined : { guard: row.guard, sends: row.sends, hardBounces: row.hard_bounces, complaints: row.complaints };
}

/** The rates over their thresholds (strictly above), once the campaign has `minSends` sends in the window. */
export function guardBreaches(reading: DeliverabilityReading): GuardBreach[] {
  const { guard, sends } = reading;
  if (sends === 0 || sends < guard.minSends) return [];
  const measured: GuardBreach[] = [
    { kind: 'hard_bounce', sends, count: reading.hardBounces, rate: reading.hardBounces / sends, threshold: guard.maxHardBounceRate },
    { kind: 'complaint', sends, count: reading.complaints, rate: reading.complaints / sends, threshold: guard.maxComplaintRate },
  ];
  return measured.filter((breach) => breach.rate > breach.threshold);
}

/** A measured rate as a percentage with one decimal: "6.7 %". */
function measured(rate: number): string {
  return `${(rate * 100).toFixed(1)} %`;
}

/** A threshold as a percentage, exactly (to a thousandth of a percent), with at least one decimal: "5.0 %", "0.25 %". */
function threshold(rate: number): string {
  const value = Number((rate * 100).toFixed(3));
  return `${Number.isInteger(value) ? value.toFixed(1) : String(value)} %`;
}

const what = { hard_bounce: ['hard bounce', 'hard bounces'], complaint: ['complaint', 'complaints'] } as const;

/** The paused reason: "Deliverability guard: 4 hard bounces in 60 sends (6.7 %) over 7 days exceeds 5.0 %". */
export function guardReason(breaches: readonly GuardBreach[]): string {
  const parts = breaches.map((breach) => {
    const [one, many] = what[breach.kind];
    return `${breach.count} ${breach.count === 1 ? one : many} in ${breach.sends} sends (${measured(breach.rate)}) over ${GUARD_WINDOW_DAYS} days exceeds ${threshold(breach.threshold)}`;
  });
  return `Deliverability guard: ${parts.join('; ')}`;
}
