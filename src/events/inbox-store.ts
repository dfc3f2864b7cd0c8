import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { arrayBinding, preparedAs } from '../db/bindings.js';
import { feedbackPayloadSchema, type FeedbackPayload, type InboxEventInput, type InboxProvider } from './feedback-event.js';

export const INBOX_EVENTS = 'inbox_events';
export const WEBHOOK_REPLAY_TOKENS = 'webhook_replay_tokens';

/** What storing one event did: its row id, whether it was already there, and whether it still needs applying. */
export interface StoredEvent {
  id: number;
  duplicate: boolean;
  pending: boolean;
}

export interface InboxEvent {
  id: number;
  provider: InboxProvider;
  eventId: string;
  payload: FeedbackPayload;
  receivedAt: Date;
  appliedAt: Date | null;
}

interface InboxEventRow {
  id: number;
  provider: InboxProvider;
  event_id: string;
  payload: unknown;
  received_at: Date;
  applied_at: Date | null;
}

function rowToInboxEvent(row: InboxEventRow): InboxEvent {
  return {
    id: row.id,
    provider: row.provider,
    eventId: row.event_id,
    payload: feedbackPayloadSchema.parse(row.payload),
    receivedAt: row.received_at,
    appliedAt: row.applied_at,
  };
}

const key = (provider: string, eventId: string) => `${provider}\u0000${eventId}`;

/**
 * Stores many events in one statement, once each (`ON CONFLICT (provider, event_id) DO
 * NOTHING`). For every input, in order: the row id, whether it already existed, and whether
 * it is not yet applied (a duplicate of an unapplied event must be enqueued again: the first
 * delivery may have been stored without its job reaching Redis).
 */
export async function insertInboxEvents(db: Knex, events: readonly InboxEventInput[], now: Date): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  const { rows: inserted } = await db.raw<{ rows: Array<{ id: number; provider: string; event_id: string }> }>(
    `INSERT INTO inbox_events (provider, event_id, type, payload, raw_body_id, received_at)
     SELECT provider, event_id, type, payload, raw_body_id, ?::timestamptz
       FROM unnest(?::text[], ?::text[], ?::text[], ?::jsonb[], ?::bigint[]) AS e(provider, event_id, type, payload, raw_body_id)
     ON CONFLICT (provider, event_id) DO NOTHING
     RETURNING id, provider, event_id`,
    [
      now,
      events.map((event) => event.provider),
      events.map((event) => event.eventId),
      events.map((event) => event.payload.type),
      events.map((event) => JSON.stringify(event.payload)),
      arrayBinding(events.map((event) => event.rawBodyId ?? null)),
    ],
  ).options(preparedAs('insert-inbox-events'));
  const fresh = new Map(inserted.map((row) => [key(row.provider, row.event_id), row.id]));
  const existing = new Map<string, { id: number; pending: boolean }>();
  const missing = events.filter((event) => !fresh.has(key(event.provider, event.eventId)));
  if (missing.length > 0) {
    const { rows } = await db.raw<{ rows: Array<{ id: number; provider: string; event_id: string; applied_at: Date | null }> }>(
      `SELECT i.id, i.provider, i.event_id, i.applied_at
         FROM inbox_events i JOIN unnest(?::text[], ?::text[]) AS k(provider, event_id)
           ON i.provider = k.provider AND i.event_id = k.event_id`,
      [missing.map((event) => event.provider), missing.map((event) => event.eventId)],
    ).options(preparedAs('find-inbox-events'));
    for (const row of rows) existing.set(key(row.provider, row.event_id), { id: row.id, pending: row.applied_at === null });
  }
  // The same event twice in one batch: the first occurrence is new, the others duplicates.
  const claimed = new Set<number>();
  return events.map((event) => {
    const freshId = fresh.get(key(event.provider, event.eventId));
    if (freshId !== undefined && !claimed.has(freshId)) {
      claimed.add(freshId);
      return { id: freshId, duplicate: false, pending: true };
    }
    if (freshId !== undefined) return { id: freshId, duplicate: true, pending: false };
    const found = existing.get(key(event.provider, event.eventId));
    if (found === undefined) throw new Error(`inbox event ${event.provider}/${event.eventId} neither inserted nor found`);
    return { id: found.id, duplicate: true, pending: found.pending };
  });
}

/**
 * Keeps a request body exactly as received (once per SHA-256) and returns its row id, for
 * events whose text had to be cleaned before they could be stored.
 */
export async function insertRawBody(db: Knex, provider: InboxProvider, body: Buffer, reason: string, now: Date): Promise<number> {
  const sha256 = createHash('sha256').update(body).digest('hex');
  const { rows } = await db.raw<{ rows: Array<{ id: number }> }>(
    `INSERT INTO inbox_raw_bodies (provider, sha256, body, reason, received_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256
     RETURNING id`,
    [provider, sha256, body, reason, now],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('raw body insert returned no id');
  return row.id;
}

/**
 * Remembers a signing token once; returns false when it was seen before (a replay). Run in the
 * transaction that stores the event, so a failed store does not burn the token.
 */
export async function rememberReplayToken(db: Knex, provider: InboxProvider, token: string, now: Date): Promise<boolean> {
  const result = await db.raw<{ rowCount: number }>(
    `INSERT INTO webhook_replay_tokens (provider, token, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
    [provider, token, now],
  );
  return result.rowCount === 1;
}

/** Forgets replay tokens older than `before` (they are refused by the timestamp window anyway). */
export async function pruneReplayTokens(db: Knex, before: Date): Promise<number> {
  return db(WEBHOOK_REPLAY_TOKENS).where('seen_at', '<', before).delete();
}

/** Locks one unapplied inbox event for applying; undefined when it is gone or already applied. */
export async function lockUnappliedEvent(trx: Knex.Transaction, id: number): Promise<InboxEvent | undefined> {
  const row = (await trx(INBOX_EVENTS).where({ id }).whereNull('applied_at').forUpdate().first()) as InboxEventRow | undefined;
  return row === undefined ? undefined : rowToInboxEvent(row);
}

/** Marks an event applied. */
export async function markApplied(trx: Knex, id: number, now: Date): Promise<void> {
  await trx(INBOX_EVENTS).where({ id }).whereNull('applied_at').update({ applied_at: now, apply_error: null });
}

/** Ids of events stored but not applied, oldest first (to re-enqueue after a Redis loss). */
export async function unappliedEventIds(db: Knex, limit: number): Promise<number[]> {
  const rows = (await db(INBOX_EVENTS).whereNull('applied_at').orderBy('id').limit(limit).select('id')) as Array<{ id: number }>;
  return rows.map((row) => row.id);
}
