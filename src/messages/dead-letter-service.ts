import { Job } from 'bullmq';
import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { Channel } from '../core/channels.js';
import type { CampaignStatus } from '../campaigns/campaign-store.js';
import { enqueueSends } from './enqueue-sends.js';
import { findDeadLetterRows, listDeadMessages, type DeadLetterRow } from './message-store.js';
import { requeueDeadMessages, RETRYABLE_CAMPAIGN_STATUSES } from './message-lifecycle.js';
import { REOPENABLE_ENROLLMENT_STATES } from '../enrollments/enrollment-lifecycle.js';

/** A DEAD message as operators see it. */
export interface DeadMessage {
  id: number;
  campaignId: number;
  leadId: number;
  /** 1-based, as operators count steps. */
  step: number;
  channel: Channel;
  recipient: string | null;
  attempts: number;
  lastError: string | null;
  deadSince: Date;
}

/** Which DEAD messages to retry: these ids, or every DEAD message of one campaign. */
export type RetrySelection = { ids: readonly number[] } | { campaignId: number };

/** What a retry did, message by message. */
export interface RetryOutcome {
  /** Messages queued again (DEAD → QUEUED), their send jobs added. */
  queued: number[];
  /** Enrollments reopened (FAILED → ACTIVE at the message's step), by message id. */
  leadsReopened: number[];
  /** Campaigns moved COMPLETED → ACTIVE because of the retry. */
  campaignsReopened: Array<{ id: number; status: CampaignStatus }>;
  /** Campaigns of queued messages that are PAUSED: their messages wait for `resume`. */
  campaignsPaused: number[];
  /** DEAD messages left DEAD, each with why. */
  refused: Array<{ id: number; reason: string }>;
  /** Messages that are not DEAD, left alone. */
  notDead: Array<{ id: number; status: string }>;
  /** Ids that name no message. */
  missing: number[];
}

export interface DeadLetterServiceDeps {
  db: Knex;
  queues: QueueRegistry;
  config: Pick<Config, 'SEND_ATTEMPTS' | 'SEND_BACKOFF'>;
  clock: Clock;
  log: Logger;
  /** The campaign lifecycle (above messages): a retry checks the campaign and reopens a COMPLETED one. */
  campaigns: {
    require(id: number): Promise<unknown>;
    reopen(id: number): Promise<{ id: number; status: CampaignStatus } | undefined>;
  };
}

/** Messages handled per transaction when a whole campaign is retried. */
const retryBatchSize = 500;

function toDeadMessage(row: DeadLetterRow): DeadMessage {
  return {
    id: row.id,
    campaignId: row.campaign_id,
    leadId: row.lead_id,
    step: row.step_index + 1,
    channel: row.channel,
    recipient: row.recipient,
    attempts: row.attempts,
    lastError: row.last_error,
    deadSince: row.updated_at,
  };
}

const reopenableStates = new Set<string>(REOPENABLE_ENROLLMENT_STATES);

/** Why a DEAD message cannot be queued again, or undefined when it can. Mirrors the send gates. */
function refusalOf(row: DeadLetterRow): string | undefined {
  if (!RETRYABLE_CAMPAIGN_STATUSES.includes(row.campaign_status)) return `campaign ${row.campaign_id} is ${row.campaign_status}`;
  if (!reopenableStates.has(row.enrollment_state)) {
    return `the lead is ${row.enrollment_state} in campaign ${row.campaign_id}; its sequence is not reopened`;
  }
  if (row.current_step !== row.step_index) return `the lead has moved on to step ${row.current_step + 1}; its sequence is not reopened`;
  if (row.suppressed) return 'the lead is suppressed; its sequence is not reopened';
  return undefined;
}

/**
 * The dead-letter view and its retry. DEAD messages are listed from Postgres (a Redis flush
 * loses the failed jobs, never the record). A retry queues them again through every send gate:
 * DEAD → QUEUED compare-and-set (reopening a FAILED enrollment at that step), in the same
 * transaction the old failed jobs (same id, the message key) are removed, then a campaign that
 * was COMPLETED only for want of work is reopened (COMPLETED → ACTIVE, ticks scheduled again)
 * and the send jobs are added.
 */
export function deadLetterService({ db, queues, config, clock, log, campaigns }: DeadLetterServiceDeps) {
  async function retryRows(rows: readonly DeadLetterRow[], outcome: RetryOutcome): Promise<void> {
    const wanted: DeadLetterRow[] = [];
    for (const row of rows) {
      if (row.status !== 'DEAD') {
        outcome.notDead.push({ id: row.id, status: row.status });
        continue;
      }
      const refusal = refusalOf(row);
      if (refusal === undefined) wanted.push(row);
      else outcome.refused.push({ id: row.id, reason: refusal });
    }
    if (wanted.length === 0) return;
    const requeued = await db.transaction(async (trx) => {
      const changed = await requeueDeadMessages(trx, wanted.map((row) => row.id), clock.now());
      // BullMQ ignores an add whose id it still holds: drop the failed jobs before committing,
      // so that a Redis failure here leaves the messages DEAD (and retryable) rather than QUEUED
      // behind a failed job that the reconciler would take for a live one.
      await Promise.all(
        changed.map(async (message) => {
          const old = await Job.fromId(queues.get(queues.directory.send[message.channel]), message.idempotency_key);
          if (old !== undefined) await old.remove();
        }),
      );
      return changed;
    });
    const requeuedIds = new Set(requeued.map((message) => message.id));
    for (const row of wanted) if (!requeuedIds.has(row.id)) outcome.refused.push({ id: row.id, reason: 'it changed meanwhile; look again' });
    for (const campaignId of new Set(requeued.map((message) => message.campaign_id))) {
      const status = wanted.find((row) => row.campaign_id === campaignId)?.campaign_status;
      if (status === 'COMPLETED' && !outcome.campaignsReopened.some((campaign) => campaign.id === campaignId)) {
        const reopened = await campaigns.reopen(campaignId);
        if (reopened !== undefined) outcome.campaignsReopened.push({ id: reopened.id, status: reopened.status });
      }
      if (status === 'PAUSED' && !outcome.campaignsPaused.includes(campaignId)) outcome.campaignsPaused.push(campaignId);
    }
    await enqueueSends(queues, config, requeued);
    outcome.queued.push(...requeued.map((message) => message.id));
    outcome.leadsReopened.push(...requeued.filter((message) => message.reopened).map((message) => message.id));
  }

  return {
    /** DEAD messages of one campaign (which must exist) or of all, oldest first, with their last error. */
    async list(campaignId?: number): Promise<DeadMessage[]> {
      if (campaignId !== undefined) await campaigns.require(campaignId);
      const dead: DeadMessage[] = [];
      let afterId = 0;
      for (;;) {
        const page = await listDeadMessages(db, { campaignId, afterId, limit: 1000 });
        dead.push(...page.map(toDeadMessage));
        const last = page.at(-1);
        if (last === undefined || page.length < 1000) return dead;
        afterId = last.id;
      }
    },

    /** Queues DEAD messages again through every gate; says per message what it did. */
    async retry(selection: RetrySelection, by: string): Promise<RetryOutcome> {
      const outcome: RetryOutcome = { queued: [], leadsReopened: [], campaignsReopened: [], campaignsPaused: [], refused: [], notDead: [], missing: [] };
      if ('ids' in selection) {
        const ids = [...new Set(selection.ids)];
        for (let start = 0; start < ids.length; start += retryBatchSize) {
          const batch = ids.slice(start, start + retryBatchSize);
          const rows = await findDeadLetterRows(db, batch);
          const found = new Set(rows.map((row) => row.id));
          outcome.missing.push(...batch.filter((id) => !found.has(id)));
          await retryRows(rows, outcome);
        }
      } else {
        await campaigns.require(selection.campaignId);
        let afterId = 0;
        for (;;) {
          const page = await listDeadMessages(db, { campaignId: selection.campaignId, afterId, limit: retryBatchSize });
          const last = page.at(-1);
          if (last === undefined) break;
          await retryRows(page, outcome);
          afterId = last.id;
        }
      }
      if (outcome.queued.length > 0) {
        log.info({ by, queued: outcome.queued.length, campaignsReopened: outcome.campaignsReopened.map((campaign) => campaign.id) }, 'DEAD messages queued again');
      }
      return outcome;
    },
  };
}

export type DeadLetterService = ReturnType<typeof deadLetterService>;

/** The one-line summary of a retry, as the CLI prints it. */
export function describeRetry(outcome: RetryOutcome): string {
  const parts = [`queued ${outcome.queued.length} DEAD message(s) again`];
  const notes = [
    ...outcome.campaignsReopened.map((campaign) => `campaign ${campaign.id} reopened: ${campaign.status}`),
    ...outcome.campaignsPaused.map((id) => `campaign ${id} is PAUSED: they go out once it is resumed`),
  ];
  if (notes.length > 0) parts[0] += ` (${notes.join('; ')})`;
  if (outcome.refused.length > 0) parts.push(`left DEAD: ${outcome.refused.length}`);
  if (outcome.notDead.length > 0) parts.push(`not DEAD, left alone: ${outcome.notDead.map((message) => `${message.id} (${message.status})`).join(', ')}`);
  if (outcome.missing.length > 0) parts.push(`no such message: ${outcome.missing.join(', ')}`);
  return parts.join('; ');
}

/** Every message a retry left alone, with why, in one line. */
export function describeRefusals(outcome: RetryOutcome): string {
  return [
    ...outcome.refused.map((refused) => `message ${refused.id} left DEAD: ${refused.reason}`),
    ...outcome.notDead.map((message) => `message ${message.id} is ${message.status}, not DEAD`),
    ...outcome.missing.map((id) => `no message ${id}`),
  ].join('; ') || 'there is no DEAD message to retry';
}
