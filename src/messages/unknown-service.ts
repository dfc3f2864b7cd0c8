import { Job } from 'bullmq';
import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { Channel } from '../core/channels.js';
import { enqueueSends } from './enqueue-sends.js';
import { MESSAGES, resolveUnknown } from './message-lifecycle.js';

export interface UnknownMessage {
  id: number;
  campaignId: number;
  leadId: number;
  /** 1-based, as operators count steps. */
  step: number;
  channel: Channel;
  recipient: string | null;
  lastError: string | null;
  sendingAt: Date | null;
}

/** How an operator settles an UNKNOWN message after checking with the provider. */
export type Resolution = 'sent' | 'failed' | 'resend';

export interface UnknownServiceDeps {
  db: Knex;
  queues: QueueRegistry;
  clock: Clock;
  config: Config;
}

/**
 * UNKNOWN messages: the adapter call may or may not have reached the provider, so drumbeat
 * never resends them on its own. An operator resolves each: `sent` (it arrived: record it and
 * move the lead on), `failed` (it did not: DEAD, the lead's sequence ends), or `resend`
 * (queue it again; every gate is re-checked).
 */
export function unknownService({ db, queues, clock, config }: UnknownServiceDeps) {
  return {
    async list(campaignId?: number): Promise<UnknownMessage[]> {
      const query = db(MESSAGES).where({ status: 'UNKNOWN' }).orderBy('id');
      if (campaignId !== undefined) query.where({ campaign_id: campaignId });
      const rows = (await query.select('id', 'campaign_id', 'lead_id', 'step_index', 'channel', 'recipient', 'last_error', 'sending_at')) as Array<{
        id: number;
        campaign_id: number;
        lead_id: number;
        step_index: number;
        channel: Channel;
        recipient: string | null;
        last_error: string | null;
        sending_at: Date | null;
      }>;
      return rows.map((row) => ({
        id: row.id,
        campaignId: row.campaign_id,
        leadId: row.lead_id,
        step: row.step_index + 1,
        channel: row.channel,
        recipient: row.recipient,
        lastError: row.last_error,
        sendingAt: row.sending_at,
      }));
    },

    /** Resolves each message that is still UNKNOWN; returns the ids that were. */
    async resolve(ids: readonly number[], resolution: Resolution, by: string): Promise<number[]> {
      const now = clock.now();
      const resolved: number[] = [];
      for (const id of ids) {
        const row = (await db(`${MESSAGES} as m`)
          .join('campaigns as c', 'c.id', 'm.campaign_id')
          .where('m.id', id)
          .first('m.idempotency_key', 'm.channel', 'c.mode')) as { idempotency_key: string; channel: Channel; mode: string } | undefined;
        if (row === undefined) continue;
        const note = `resolved as ${resolution} by ${by}`;
        const settled =
          resolution === 'sent'
            ? await resolveUnknown(db, { id, to: row.mode === 'PROOF' ? 'SENT_PROOF' : 'SENT', now, note, effect: { kind: 'advance' } })
            : resolution === 'failed'
              ? await resolveUnknown(db, { id, to: 'DEAD', now, note, effect: { kind: 'end', state: 'FAILED', reason: note } })
              : await resolveUnknown(db, { id, to: 'QUEUED', now, note, effect: { kind: 'none' } });
        if (!settled) continue;
        resolved.push(id);
        if (resolution === 'resend') {
          // BullMQ ignores an add whose id it still remembers: drop the old job first.
          const old = await Job.fromId(queues.get(queues.directory.send[row.channel]), row.idempotency_key);
          if (old !== undefined) await old.remove();
          await enqueueSends(queues, config, [{ id, idempotency_key: row.idempotency_key, channel: row.channel }]);
        }
      }
      return resolved;
    },
  };
}

export type UnknownService = ReturnType<typeof unknownService>;
