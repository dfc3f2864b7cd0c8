import type { Knex } from 'knex';
import { listGuardEvents, type GuardKind } from '../events/guard-event-store.js';

/** One pause by the deliverability guard, as the report shows it. */
export interface GuardReportEvent {
  kind: GuardKind;
  /** Email sends of the campaign in the 7 days before. */
  sends: number;
  /** Hard-bounced, or complaining, addresses in those days. */
  count: number;
  rate: number;
  threshold: number;
  occurredAt: string;
}

/**
 * The deliverability guard's events of a campaign, oldest first: each time it paused the
 * campaign, one entry per rate over its line (for the report's "guard events" section).
 */
export async function guardEventsForCampaign(db: Knex, campaignId: number): Promise<GuardReportEvent[]> {
  const events = await listGuardEvents(db, campaignId);
  return events.map((event) => ({
    kind: event.kind,
    sends: event.sends,
    count: event.count,
    rate: event.rate,
    threshold: event.threshold,
    occurredAt: event.occurredAt.toISOString(),
  }));
}
