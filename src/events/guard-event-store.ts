import type { Knex } from 'knex';

export const GUARD_EVENTS = 'guard_events';

/** Which rate crossed the deliverability guard's line. */
export type GuardKind = 'hard_bounce' | 'complaint';

/** One rate over its threshold, as the guard measured it when it paused a campaign. */
export interface GuardBreach {
  kind: GuardKind;
  /** Email sends of the campaign in the window. */
  sends: number;
  /** Addresses that hard-bounced, or complained, in the window. */
  count: number;
  rate: number;
  threshold: number;
}

/** A recorded guard event: a breach, the campaign it paused, and when. */
export interface GuardEvent extends GuardBreach {
  id: number;
  campaignId: number;
  inboxEventId: number | null;
  occurredAt: Date;
}

interface GuardEventRow {
  id: number;
  campaign_id: number;
  inbox_event_id: number | null;
  kind: GuardKind;
  sends: number;
  count: number;
  rate: number;
  threshold: number;
  occurred_at: Date;
}

function rowToGuardEvent(row: GuardEventRow): GuardEvent {
  return {
    id: row.id,
    campaignId: row.campaign_id,
    inboxEventId: row.inbox_event_id,
    kind: row.kind,
    sends: row.sends,
    count: row.count,
    rate: row.rate,
    threshold: row.threshold,
    occurredAt: row.occurred_at,
  };
}

/** Records the breaches that paused a campaign, once per inbox event and kind. */
export async function insertGuardEvents(db: Knex, campaignId: number, inboxEventId: number, breaches: readonly GuardBreach[], now: Date): Promise<void> {
  if (breaches.length === 0) return;
  await db(GUARD_EVENTS)
    .insert(breaches.map((breach) => ({ campaign_id: campaignId, inbox_event_id: inboxEventId, ...breach, occurred_at: now })))
    .onConflict(['inbox_event_id', 'kind'])
    .ignore();
}

/** A campaign's guard events, oldest first. */
export async function listGuardEvents(db: Knex, campaignId: number): Promise<GuardEvent[]> {
  const rows = (await db(GUARD_EVENTS).where({ campaign_id: campaignId }).orderBy(['occurred_at', 'id'])) as GuardEventRow[];
  return rows.map(rowToGuardEvent);
}
