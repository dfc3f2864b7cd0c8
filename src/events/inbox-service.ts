import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import { Batcher } from '../core/batcher.js';
import { replaceUnsafeJson, replaceUnsafeText } from '../core/safe-text.js';
import type { InboxEventInput, InboxProvider } from './feedback-event.js';
import { insertInboxEvents, insertRawBody, pruneReplayTokens, rememberReplayToken, unappliedEventIds, type StoredEvent } from './inbox-store.js';
import { WebhookAuthError } from './webhook-signatures.js';

export interface InboxServiceDeps {
  db: Knex;
  queues: QueueRegistry;
  clock: Clock;
}

/** How many of a request's events were new, how many were already in the inbox, and how many wait for the queue. */
export interface StoreOutcome {
  stored: number;
  duplicates: number;
  /** Stored, but their apply jobs could not be queued now (the queue store away): the reconciler queues them. */
  deferred: number;
}

/** A verified request's body as received, kept when its text has to be cleaned to be stored. */
export interface ReceivedBody {
  provider: InboxProvider;
  bytes: Buffer;
}

type StoredOrDeferred = StoredEvent & { deferred: boolean };

/** How long a webhook waits for Redis to take its apply jobs before acknowledging them as deferred. */
const enqueueDeadlineMs = 2000;

/**
 * The inbox: verified events are stored once (unique provider + event id) and their apply job
 * is enqueued after the insert commits. The events of concurrent requests are stored with one
 * INSERT and enqueued with one `addBulk`. An event is never refused for its text: a NUL
 * character or a lone surrogate (which Postgres cannot hold) is replaced, and the request's exact
 * bytes are kept beside it. Once stored, an event is acknowledged even if Redis refuses its job:
 * the reconciler's sweep of unapplied events queues it later, so no stored event is answered 5xx.
 */
export function inboxService({ db, queues, clock }: InboxServiceDeps) {
  async function enqueue(stored: readonly StoredEvent[]): Promise<void> {
    const pending = [...new Set(stored.filter((event) => event.pending).map((event) => event.id))];
    await queues.addMany(
      queues.directory.events,
      pending.map((inboxEventId) => ({ data: { inboxEventId }, opts: { jobId: queues.directory.eventJobId(inboxEventId) } })),
    );
  }

  /**
   * Enqueues what is pending; when the queue store is down, refuses, or does not answer within
   * {@link enqueueDeadlineMs}, the events are marked deferred instead (they are stored).
   */
  async function enqueueOrDefer(stored: readonly StoredEvent[]): Promise<StoredOrDeferred[]> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), enqueueDeadlineMs)));
    const deferred = (await queues.available())
      ? await Promise.race([
          enqueue(stored).then(
            () => false,
            () => true,
          ),
          deadline,
        ])
      : true;
    clearTimeout(timer);
    return stored.map((event) => ({ ...event, deferred: deferred && event.pending }));
  }

  const batches = new Batcher<InboxEventInput, StoredOrDeferred>(async (events) => enqueueOrDefer(await insertInboxEvents(db, events, clock.now())));

  function outcome(stored: readonly StoredOrDeferred[]): StoreOutcome {
    const duplicates = stored.filter((event) => event.duplicate).length;
    return { stored: stored.length - duplicates, duplicates, deferred: stored.filter((event) => event.deferred).length };
  }

  /** The events with unsafe text replaced; the raw body is kept (once) when anything was. */
  async function cleaned(events: readonly InboxEventInput[], body: ReceivedBody | undefined): Promise<InboxEventInput[]> {
    const clean = events.map((event) => {
      const payload = replaceUnsafeJson(event.payload);
      const eventId = replaceUnsafeText(event.eventId);
      return { event: { ...event, eventId, payload: payload.value }, replaced: payload.replaced || eventId !== event.eventId };
    });
    if (body === undefined || !clean.some((entry) => entry.replaced)) return clean.map((entry) => entry.event);
    const rawBodyId = await insertRawBody(db, body.provider, body.bytes, 'text replaced: NUL characters or lone surrogates', clock.now());
    return clean.map((entry) => ({ ...entry.event, rawBodyId }));
  }

  return {
    /** Stores events once each and enqueues what still needs applying. */
    async store(events: readonly InboxEventInput[], body?: ReceivedBody): Promise<StoreOutcome> {
      const clean = await cleaned(events, body);
      return outcome(await Promise.all(clean.map((event) => batches.run(event))));
    },

    /**
     * Stores one event only if its signing token was never seen, in one transaction: a
     * replayed token stores nothing; a failed store does not burn the token. Tokens seen
     * before `forgetTokensBefore` are forgotten.
     * @throws WebhookAuthError for a replayed token.
     */
    async storeWithReplayToken(event: InboxEventInput, token: string, forgetTokensBefore: Date, body?: ReceivedBody): Promise<StoreOutcome> {
      const [clean] = await cleaned([event], body);
      if (clean === undefined) throw new Error('no event to store');
      const cleanToken = replaceUnsafeText(token);
      const stored = await db.transaction(async (trx) => {
        if (!(await rememberReplayToken(trx, clean.provider, cleanToken, clock.now()))) throw new WebhookAuthError('signing token already used');
        return insertInboxEvents(trx, [clean], clock.now());
      });
      // Tokens older than the timestamp window are refused as stale anyway: no need to keep them.
      await pruneReplayTokens(db, forgetTokensBefore);
      return outcome(await enqueueOrDefer(stored));
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
