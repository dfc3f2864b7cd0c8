import type { Knex } from 'knex';

export const CONTACT_EVENTS = 'contact_events';

/** One line of a lead's timeline. */
export interface ContactEvent {
  id: number;
  leadId: number;
  campaignId: number | null;
  messageId: number | null;
  inboxEventId: number | null;
  type: string;
  data: Record<string, unknown>;
  occurredAt: Date;
}

interface ContactEventRow {
  id: number;
  lead_id: number;
  campaign_id: number | null;
  message_id: number | null;
  inbox_event_id: number | null;
  type: string;
  data: Record<string, unknown>;
  occurred_at: Date;
}

function rowToContactEvent(row: ContactEventRow): ContactEvent {
  return {
    id: row.id,
    leadId: row.lead_id,
    campaignId: row.campaign_id,
    messageId: row.message_id,
    inboxEventId: row.inbox_event_id,
    type: row.type,
    data: row.data,
    occurredAt: row.occurred_at,
  };
}

/**
 * Adds a timeline entry; one from an inbox event is added once per lead (unique
 * `(inbox_event_id, lead_id)`), so applying an event twice cannot double it.
 */
export async function addContactEvent(
  db: Knex,
  entry: { leadId: number; campaignId: number | null; messageId: number | null; inboxEventId: number | null; type: string; data: Record<string, unknown>; occurredAt: Date },
): Promise<void> {
  await db.raw(
    `INSERT INTO contact_events (lead_id, campaign_id, message_id, inbox_event_id, type, data, occurred_at)
     VALUES (?, ?, ?, ?, ?, ?::jsonb, ?)
     ON CONFLICT (inbox_event_id, lead_id) WHERE inbox_event_id IS NOT NULL DO NOTHING`,
    [entry.leadId, entry.campaignId, entry.messageId, entry.inboxEventId, entry.type, JSON.stringify(entry.data), entry.occurredAt],
  );
}

/** A lead's timeline, oldest first. */
export async function listContactEvents(db: Knex, leadId: number): Promise<ContactEvent[]> {
  const rows = (await db(CONTACT_EVENTS).where({ lead_id: leadId }).orderBy([{ column: 'occurred_at' }, { column: 'id' }])) as ContactEventRow[];
  return rows.map(rowToContactEvent);
}
