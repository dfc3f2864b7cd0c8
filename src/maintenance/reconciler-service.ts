import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { JobPresence } from '../jobs/job-presence.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { CampaignService } from '../orchestration/campaign-service.js';
import type { Channel } from '../core/channels.js';
import { listActiveCampaigns } from '../campaigns/campaign-store.js';
import { enqueueSends } from '../messages/enqueue-sends.js';
import { markStaleSendingUnknown, MESSAGES, WAITING_FOR_SEND_JOB_STATUSES } from '../messages/message-lifecycle.js';
import type { InboxService } from '../events/inbox-service.js';

export interface ReconcileResult {
  requeued: number;
  /** Stored webhook events not yet applied, whose apply jobs were added again (a no-op for live ones). */
  requeuedEvents: number;
  markedUnknown: number;
  completedCampaigns: number;
}

interface WaitingMessage {
  id: number;
  idempotency_key: string;
  channel: Channel;
}

export interface ReconcilerDeps {
  db: Knex;
  queues: QueueRegistry;
  clock: Clock;
  log: Logger;
  config: Config;
  campaigns: CampaignService;
  jobs: JobPresence;
  inbox: Pick<InboxService, 'requeueUnapplied'>;
}

/**
 * Restores what Redis may have lost and flags what a crash left behind. Postgres is the record:
 * a QUEUED (or FAILED-and-retrying) message whose job no longer exists gets its job
 * back (jobId dedup makes a second add harmless); a message SENDING for longer than
 * `SENDING_STALE_AFTER` becomes UNKNOWN, never resent on its own. Stored webhook events that are
 * not applied yet get their apply jobs back the same way.
 */
export function reconcilerService({ db, queues, clock, log, config, campaigns, jobs, inbox }: ReconcilerDeps) {
  /**
   * Which of these messages have no job that will still run, asked for the whole batch at once. A
   * finished job of a message still waiting is a leftover under the same id (Postgres was reset or
   * restored, Redis kept): it is removed, or adding the job again would be a no-op and the message
   * would wait for ever.
   */
  async function withoutJobs(messages: WaitingMessage[]): Promise<WaitingMessage[]> {
    const sendQueue = (message: WaitingMessage) => queues.get(queues.directory.send[message.channel]);
    const standings = await jobs.find(messages.map((message) => ({ queue: sendQueue(message), jobId: message.idempotency_key })));
    const leftovers = messages.filter((_, index) => standings[index] === 'finished');
    await Promise.all(leftovers.map((message) => sendQueue(message).remove(message.idempotency_key)));
    if (leftovers.length > 0) log.warn({ messageIds: leftovers.map((message) => message.id) }, 'finished send jobs of waiting messages removed (left from an earlier database)');
    return messages.filter((_, index) => standings[index] !== 'live');
  }

  async function requeueLost(batchSize = 1000): Promise<number> {
    let requeued = 0;
    let afterId = 0;
    for (;;) {
      const waiting = (await db(MESSAGES)
        .select('id', 'idempotency_key', 'channel')
        .whereIn('status', [...WAITING_FOR_SEND_JOB_STATUSES])
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(batchSize)) as WaitingMessage[];
      if (waiting.length === 0) return requeued;
      afterId = waiting[waiting.length - 1]?.id ?? afterId;
      const lost = await withoutJobs(waiting);
      if (lost.length > 0) requeued += await enqueueSends(queues, config, lost);
      if (waiting.length < batchSize) return requeued;
    }
  }

  async function markStaleSending(): Promise<number> {
    const cutoff = new Date(clock.now().getTime() - config.SENDING_STALE_AFTER);
    const stale = await markStaleSendingUnknown(db, {
      sendingBefore: cutoff,
      error: `still SENDING after ${config.SENDING_STALE_AFTER} ms: the worker stopped mid-send; the provider may or may not have it`,
      now: clock.now(),
    });
    if (stale.length > 0) log.error({ messageIds: stale }, 'stale SENDING messages marked UNKNOWN; an operator must resolve them');
    return stale.length;
  }

  return {
    async reconcile(): Promise<ReconcileResult> {
      const markedUnknown = await markStaleSending();
      const requeued = await requeueLost();
      const requeuedEvents = await inbox.requeueUnapplied();
      let completedCampaigns = 0;
      for (const campaign of await listActiveCampaigns(db)) {
        if (await campaigns.completeIfFinished(campaign.id)) completedCampaigns += 1;
      }
      if (requeued > 0) log.warn({ requeued }, 'reconciler re-enqueued messages whose jobs were gone');
      return { requeued, requeuedEvents, markedUnknown, completedCampaigns };
    },
  };
}

export type ReconcilerService = ReturnType<typeof reconcilerService>;
