import type { Knex } from 'knex';
import { markOptedOut, type EndedEnrollmentState } from '../enrollments/enrollment-lifecycle.js';
import { identityHash, normaliseEmail } from '../core/identity.js';
import type { LeadIdentity } from './lead-store.js';
import { addSuppression } from '../suppression/suppression-store.js';

/** Why a lead is opted out, and what its live enrollments become. */
export interface OptOut {
  /** The lead, when known; its identity hash is suppressed even if its address was erased. */
  lead: LeadIdentity | undefined;
  /** The address the event named (suppressed even when no lead has it). */
  email: string | null;
  reason: string;
  endState: Extract<EndedEnrollmentState, 'UNSUBSCRIBED' | 'BOUNCED'>;
  /** Set for an opt-out by the person (unsubscribe, complaint): recorded and consent withdrawn. */
  unsubscribe?: { source: string; campaignId: number | null; messageId: number | null };
  now: Date;
}

/**
 * Suppresses an address and identity everywhere and ends every live enrollment of the lead,
 * in the caller's transaction. Safe to run twice: suppressions are unique, enrollment changes
 * are compare-and-set from NEW/ACTIVE, and the unsubscribe record is written once per
 * (identity, message, source). Returns how many enrollments ended.
 */
export async function optOut(trx: Knex, request: OptOut): Promise<number> {
  const address = request.lead?.email ?? (request.email === null ? null : normaliseEmail(request.email));
  const identity = request.lead?.identityHash ?? (address === null ? null : identityHash(address));
  const entry = { reason: request.reason, campaignId: null, createdBy: 'feedback' };
  if (address !== null) await addSuppression(trx, { ...entry, kind: 'email', value: address });
  if (identity !== null) await addSuppression(trx, { ...entry, kind: 'identity', value: identity });
  if (request.lead === undefined) return 0;
  const ended = await markOptedOut(trx, { leadId: request.lead.id, state: request.endState, reason: request.reason, now: request.now });
  if (request.unsubscribe !== undefined) {
    await trx('leads').where({ id: request.lead.id }).update({ consent: 'WITHDRAWN', updated_at: request.now });
    await trx.raw(
      `INSERT INTO unsubscribes (lead_id, identity_hash, campaign_id, message_id, source, created_at)
       SELECT ?, ?, ?, ?, ?, ?
        WHERE NOT EXISTS (SELECT 1 FROM unsubscribes WHERE identity_hash = ? AND message_id IS NOT DISTINCT FROM ? AND source = ?)`,
      [
        request.lead.id,
        request.lead.identityHash,
        request.unsubscribe.campaignId,
        request.unsubscribe.messageId,
        request.unsubscribe.source,
        request.now,
        request.lead.identityHash,
        request.unsubscribe.messageId,
        request.unsubscribe.source,
      ],
    );
  }
  return ended;
}
