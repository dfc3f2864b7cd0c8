import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import { listContactEvents, type ContactEvent } from './contact-event-store.js';
import { addSuppression } from '../suppression/suppression-store.js';
import { eraseEnrollments } from '../enrollments/enrollment-lifecycle.js';
import { eraseMessageContent } from '../messages/message-lifecycle.js';
import { leadMessages } from './lead-directory.js';
import { identityHash, normaliseEmail } from '../core/identity.js';

/** Everything drumbeat holds about one person, for `leads show`. */
export interface LeadTimeline {
  lead: (Record<string, unknown> & { id: number; email: string | null; consent: string; source: string | null }) | undefined;
  identityHash: string;
  /** `step` is the step the enrollment is on or ended at, 1-based; `steps` how many the campaign has (past the last: all done). */
  enrollments: Array<{ campaignId: number; campaign: string; state: string; step: number; steps: number; endReason: string | null; enrolledAt: Date }>;
  /**
   * `step` is 1-based, as operators count steps. `skipReason` is the note beside the status: why
   * it was skipped or rejected, why it is held for review, or how its UNKNOWN outcome was resolved.
   */
  messages: Array<{ id: number; campaignId: number; step: number; channel: string; status: string; skipReason: string | null; sentAt: Date | null }>;
  events: ContactEvent[];
  suppressions: Array<{ kind: string; value: string; campaignId: number | null; reason: string; createdAt: Date }>;
}

/** A lead's record and timeline by address (also for an erased lead, by its identity hash). */
export async function leadTimeline(db: Knex, email: string): Promise<LeadTimeline> {
  const address = normaliseEmail(email);
  const identity = identityHash(address);
  const lead = (await db('leads').where({ identity_hash: identity }).first()) as LeadTimeline['lead'];
  const suppressions = (await db('suppressions')
    .where((query) => {
      void query
        .where({ kind: 'identity', value: identity })
        .orWhere({ kind: 'email', value: address })
        .orWhere({ kind: 'domain', value: address.split('@')[1] ?? '' });
    })
    .orderBy('id')
    .select('kind', 'value', 'campaign_id as campaignId', 'reason', 'created_at as createdAt')) as LeadTimeline['suppressions'];
  if (lead === undefined) return { lead: undefined, identityHash: identity, enrollments: [], messages: [], events: [], suppressions };
  const enrollments = (await db('campaign_leads as cl')
    .join('campaigns as c', 'c.id', 'cl.campaign_id')
    .where('cl.lead_id', lead.id)
    .orderBy('cl.id')
    .select(
      'cl.campaign_id as campaignId',
      'c.name as campaign',
      'cl.state',
      db.raw('cl.current_step + 1 AS step'),
      db.raw('(SELECT count(*)::int FROM campaign_steps s WHERE s.campaign_id = cl.campaign_id) AS steps'),
      'cl.end_reason as endReason',
      'cl.enrolled_at as enrolledAt',
    )) as LeadTimeline['enrollments'];
  const messages = (await leadMessages(db, lead.id)).map(({ id, campaignId, step, channel, status, note, sentAt }) => ({
    id,
    campaignId,
    step,
    channel,
    status,
    skipReason: note,
    sentAt,
  }));
  return { lead, identityHash: identity, enrollments, messages, events: await listContactEvents(db, lead.id), suppressions };
}

/**
 * Erases a person's personal data everywhere (lead fields, rendered messages, proof records,
 * timeline details, provider payloads, address suppressions) while keeping their identity
 * hash suppressed, so that a later import or form capture of the same address is refused.
 * Enrollments still live end SUPPRESSED. Returns whether a lead was found.
 */
export async function forgetLead(deps: { db: Knex; clock: Clock }, email: string, requestedBy: string): Promise<{ found: boolean }> {
  const { db, clock } = deps;
  const address = normaliseEmail(email);
  const identity = identityHash(address);
  const now = clock.now();
  return db.transaction(async (trx) => {
    // Address suppressions become identity suppressions of the same scope and reason.
    const byAddress = (await trx('suppressions').where({ kind: 'email', value: address }).select('campaign_id', 'reason')) as Array<{
      campaign_id: number | null;
      reason: string;
    }>;
    for (const entry of byAddress) {
      await addSuppression(trx, { kind: 'identity', value: identity, campaignId: entry.campaign_id, reason: entry.reason, createdBy: requestedBy });
    }
    await trx('suppressions').where({ kind: 'email', value: address }).delete();
    await addSuppression(trx, { kind: 'identity', value: identity, campaignId: null, reason: 'erased on request', createdBy: requestedBy });
    await trx.raw(
      `UPDATE inbox_events SET payload = jsonb_set(jsonb_set(payload, '{email}', 'null'), '{data}', '{}') WHERE payload->>'email' = ?`,
      [address],
    );

    const lead = (await trx('leads').where({ identity_hash: identity }).forUpdate().first('id')) as { id: number } | undefined;
    if (lead === undefined) return { found: false };
    await eraseEnrollments(trx, lead.id, now);
    await trx('leads').where({ id: lead.id }).update({
      email: null,
      first_name: null,
      last_name: null,
      company: null,
      timezone: null,
      linkedin_id: null,
      x_user_id: null,
      instagram_user_id: null,
      custom: '{}',
      source_ref: null,
      referrer: null,
      erased_at: now,
      updated_at: now,
    });
    const messageIds = await eraseMessageContent(trx, lead.id, now);
    await trx('proof_deliveries').whereIn('message_id', messageIds).update({ recipient: null, subject: null, body: null });
    await trx('contact_events').where({ lead_id: lead.id }).update({ data: '{}' });
    return { found: true };
  });
}
