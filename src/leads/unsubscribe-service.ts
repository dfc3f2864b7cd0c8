import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import { findLeadIdentity } from './lead-store.js';
import { addContactEvent } from './contact-event-store.js';
import { optOut } from './opt-out-service.js';

/** The shape of a token in a `List-Unsubscribe` URL; anything else is refused before any lookup. */
const tokenPattern = /^[A-Za-z0-9_-]{16,200}$/;

/** SHA-256 hex of an unsubscribe token: the only form stored (`messages.unsubscribe_token_hash`). */
export function unsubscribeTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The message an unsubscribe token was issued for, if the token is genuine. */
export interface UnsubscribeTarget {
  messageId: number;
  campaignId: number;
  leadId: number;
  /** The campaign's display name, for the confirmation page. */
  campaignName: string;
}

/**
 * One-click unsubscribe (RFC 8058) by the token carried in each message's `List-Unsubscribe`
 * URL. Tokens do not expire: an unsubscribe link must keep working for as long as the mail
 * may be read (at least 30 days), and honouring an old one only ever stops mail.
 */
export function unsubscribeService({ db, clock }: { db: Knex; clock: Clock }) {
  return {
    /** Looks a token up without changing anything (the GET confirmation page). */
    async find(token: string): Promise<UnsubscribeTarget | undefined> {
      if (!tokenPattern.test(token)) return undefined;
      const row = (await db('messages as m')
        .join('campaigns as c', 'c.id', 'm.campaign_id')
        .where('m.unsubscribe_token_hash', unsubscribeTokenHash(token))
        .first('m.id', 'm.campaign_id', 'm.lead_id', 'c.name')) as { id: number; campaign_id: number; lead_id: number; name: string } | undefined;
      return row === undefined ? undefined : { messageId: row.id, campaignId: row.campaign_id, leadId: row.lead_id, campaignName: row.name };
    },

    /**
     * Unsubscribes the lead a token was issued to: suppressed everywhere (address and identity),
     * every live enrollment UNSUBSCRIBED, consent withdrawn, recorded. Idempotent. Returns
     * undefined for a forged or unknown token (nothing changes).
     */
    async unsubscribe(token: string): Promise<UnsubscribeTarget | undefined> {
      const target = await this.find(token);
      if (target === undefined) return undefined;
      const now = clock.now();
      await db.transaction(async (trx) => {
        const lead = await findLeadIdentity(trx, target.leadId);
        const ended = await optOut(trx, {
          lead,
          email: null,
          reason: 'unsubscribed',
          endState: 'UNSUBSCRIBED',
          unsubscribe: { source: 'one-click', campaignId: target.campaignId, messageId: target.messageId },
          now,
        });
        if (lead !== undefined && ended > 0) {
          await addContactEvent(trx, {
            leadId: lead.id,
            campaignId: target.campaignId,
            messageId: target.messageId,
            inboxEventId: null,
            type: 'unsubscribed',
            data: { source: 'one-click' },
            occurredAt: now,
          });
        }
      });
      return target;
    },
  };
}

export type UnsubscribeService = ReturnType<typeof unsubscribeService>;
