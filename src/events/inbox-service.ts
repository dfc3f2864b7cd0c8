import type { Knex } from 'knex';
import type { Clock } from '../runtime/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import { Batcher } from '../db/batcher.js';
import { eventJobId, eventsQueue } from '../../queues/events.js';
import type { InboxEventInput } from './feedback-event.js';
import { insertInboxEvents, pruneReplayTokens, rememberReplayToken, unappliedEventIds, type StoredEvent } from './inbox-store.js';
import { WebhookAuthError } from './webhook-signatures.js';

/** Raised when events were stored but their jobs could not be enqueued (Redis away): answer 503. */
export class QueueUnavailableError extends Error {
  constructor(cause: unknown) {
    super('the events queue is unavailable; the events are stored and will be applied on redelivery', { cause });
    this.name = 'QueueUnavailableError';
  }
}

export interface InboxServiceDeps {
  db: Knex;
  queues: QueueRegistry;
  clock: Clock;
}

/** How many of a request's events were new and how many were already in the inbox. */
export interface StoreOutcome {
  stored: number;
  duplicates: number;
}

/**
 * The inbox: verified events are stored once (unique provider + event id) and their apply job
 * is enqueued after the insert commits. The events of concurrent requests are stored with one
 * INSERT and enqueued with one `addBulk`. If Redis refuses the job the request fails (the
 * provider retries), and the retry, though a duplicate, enqueues the still-unapplied event.
 */
export function inboxService({ db, queues, clock }: InboxServiceDeps) {
  async function enqueue(stored: readonly StoredEvent[]): Promise<void> {
    const pending = [...new Set(stored.filter((event) => event.pending).map((event) => event.id))];
    try {
      await queues.addMany(
        eventsQueue,
        pending.map((inboxEventId) => ({ data: { inboxEventId }, opts: { jobId: eventJobId(inboxEventId) } })),
      );
    } catch (error) {
      throw new QueueUnavailableError(error);
    }
  }

  const batches = new Batcher<InboxEventInput, StoredEvent>(async (events) => {
    const stored = await insertInboxEvents(db, events, clock.now());
    await enqueue(stored);
    return stored;
  });

  function outcome(stored: readonly StoredEvent[]): StoreOutcome {
    const duplicates = stored.filter((event) => event.duplicate).length;
    return { stored: stored.length - duplicates, duplicates };
  }

  return {
    /** Stores events once each and enqueues what still needs applying. */
    async store(events: readonly InboxEventInput[]): Promise<StoreOutcome> {
      return outcome(await Promise.all(events.map((event) => batches.run(event))));
    },

    /**
     * Stores one event only if its signing token was never seen, in one transaction: a
     * replayed token stores nothing; a failed store does not burn the token. Tokens seen
     * before `forgetTokensBefore` are forgotten.
     * @throws WebhookAuthError for a replayed token.
     */
    async storeWithReplayToken(event: InboxEventInput, token: string, forgetTokensBefore: Date): Promise<StoreOutcome> {
      const stored = await db.transaction(async (trx) => {
        if (!(await rememberReplayToken(trx, event.provider, token, clock.now()))) throw new WebhookAuthError('signing token already used');
        return insertInboxEvents(trx, [event], clock.now());
      });
      // Tokens older than the timestamp window are refused as stale anyway: no need to keep them.
      await pruneReplayTokens(db, forgetTokensBefore);
      await enqueue(stored);
      return outcome(stored);
    },

    /**
     * Re-enqueues up to `limit` stored but unapplied events, for a sweep after Redis lost
     * their jobs when no redelivery comes to do it.
     */
    async requeueUnapplied(limit = 10_000): Promise<number> {
      const ids = await unappliedEventIds(db, limit);
      await enqueue(ids.map((id) => ({ id, duplicate: true, pending: true })));
      return ids.length;
    },
  };
}

export type InboxService = ReturnType<typeof inboxService>;
