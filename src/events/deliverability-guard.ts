import type { Knex } from 'knex';
import type { GuardSettings } from '../campaigns/campaign-spec.js';
import type { GuardBreach } from './guard-event-store.js';

/** The guard's rolling window. */
export const GUARD_WINDOW_DAYS = 7;

/** What the guard reads about one campaign over the window. */
export interface DeliverabilityReading {
  guard: GuardSettings;
  /** Email sends in the window, exact up to the bound past which no breach is possible (see {@link readDeliverability}). */
  sends: number;
  hardBounces: number;
  complaints: number;
}

/**
 * One query, on two partial indexes: the guard settings of an ACTIVE LIVE campaign whose guard
 * is on, its hard-bounced and complaining addresses since `since` (timeline types
 * `bounced_hard` and `complained`, as the event service records them), and its email sends
 * since then. The sends are counted only as far as a breach is still possible: past
 * `minSends` and past `count / rate` for both rates no number of sends can cross a line, so
 * the count stops there (a campaign sending a million a week costs a bounce no more than one
 * sending a thousand). Below that bound the count is exact, so a breach states true numbers.
 * Undefined when the campaign is not guarded now (PROOF, not ACTIVE, `guard: off`).
 */
export async function readDeliverability(db: Knex, campaignId: number, since: Date): Promise<DeliverabilityReading | undefined> {
  const { rows } = await db.raw<{ rows: Array<{ guard: GuardSettings; sends: number; hard_bounces: number; complaints: number }> }>(
    `WITH guarded AS (
       SELECT c.id, c.guard FROM campaigns c
        WHERE c.id = :campaignId AND c.status = 'ACTIVE' AND c.mode = 'LIVE' AND c.guard IS NOT NULL
     ), feedback AS (
       SELECT count(DISTINCT e.lead_id) FILTER (WHERE e.type = 'bounced_hard')::int AS hard_bounces,
              count(DISTINCT e.lead_id) FILTER (WHERE e.type = 'complained')::int AS complaints
         FROM contact_events e
        WHERE e.campaign_id = :campaignId AND e.type IN ('bounced_hard','complained') AND e.occurred_at >= :since
     )
     SELECT g.guard, f.hard_bounces, f.complaints,
            (SELECT count(*)::int FROM (
               SELECT 1 FROM messages m
                WHERE m.campaign_id = g.id AND m.status = 'SENT' AND m.channel = 'email' AND m.sent_at >= :since
                LIMIT GREATEST((g.guard->>'minSends')::int,
                               floor(f.hard_bounces / (g.guard->>'maxHardBounceRate')::float8)::int + 2,
                               floor(f.complaints / (g.guard->>'maxComplaintRate')::float8)::int + 2)) bounded) AS sends
       FROM guarded g CROSS JOIN feedback f`,
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
