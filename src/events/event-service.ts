import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import type { GuardPauser, PausedCampaign } from '../delivery/campaign-pauser.js';
import { markReplied, recordSoftBounces } from '../enrollments/enrollment-lifecycle.js';
import { liveCampaignIds, softBouncesInARow } from '../enrollments/enrollment-store.js';
import { MESSAGES } from '../messages/message-lifecycle.js';
import { findLeadByEmail, findLeadIdentity, type LeadIdentity } from '../leads/lead-store.js';
import { optOut } from '../leads/opt-out-service.js';
import { addContactEvent } from '../leads/contact-event-store.js';
import type { FeedbackPayload } from './feedback-event.js';
import { lockUnappliedEvent, markApplied } from './inbox-store.js';
import { GUARD_WINDOW_DAYS, guardBreaches, guardReason, readDeliverability } from './deliverability-guard.js';
import { insertGuardEvents } from './guard-event-store.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';

export interface EventServiceDeps {
  db: Knex;
  clock: Clock;
  config: Pick<Config, 'SOFT_BOUNCE_LIMIT'>;
  /** The campaign lifecycle, through which the deliverability guard pauses a campaign. */
  campaigns: GuardPauser;
  /** This process's count of applied events. */
  metrics: Pick<WorkerMetrics, 'eventsApplied'>;
}

/** What applying an inbox event did. */
export interface ApplyResult {
  outcome: 'applied' | 'already-applied';
  note?: string;
}

interface MatchedMessage {
  id: number;
  campaign_id: number;
  lead_id: number;
}

/** The first of our messages that a provider or a reply refers to (our Message-ID or the provider's id). */
async function findMessage(db: Knex, refs: readonly string[]): Promise<MatchedMessage | undefined> {
  if (refs.length === 0) return undefined;
  const candidates = [...refs, ...refs.map((ref) => `<${ref}>`)];
  const rows = (await db(MESSAGES)
    .whereIn('provider_message_id', candidates)
    .orWhereIn('external_id', candidates)
    .select('id', 'campaign_id', 'lead_id', 'provider_message_id', 'external_id')) as Array<
    MatchedMessage & { provider_message_id: string | null; external_id: string | null }
  >;
  // Prefer the message named first (a reply's direct parent over older ones in the thread).
  for (const ref of refs) {
    const found = rows.find((row) => [row.provider_message_id, row.external_id].some((id) => id === ref || id === `<${ref}>`));
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Applies stored inbox events to leads, once: the row is locked, applied and marked in one
 * transaction, so a second job for the same event finds it applied and changes nothing; the
 * lead's row is locked too, so that the events of one lead are applied one at a time.
 * Effects: a reply stops the sequence (REPLIED); a hard bounce suppresses the address and ends
 * enrollments BOUNCED; soft bounces are counted per lead (since its latest delivery) and the Nth in a row
 * (`SOFT_BOUNCE_LIMIT`) does the same; a complaint or an unsubscribe suppresses everywhere and
 * ends enrollments UNSUBSCRIBED; everything else lands on the lead's timeline only.
 * A hard bounce or a complaint also runs the deliverability guard of its campaign, in the same
 * transaction: over the last 7 days, with at least `guard.minSends` email sends, hard-bounced
 * or complaining addresses per send above their rate pause the campaign (by drumbeat, with the
 * numbers) and are recorded in `guard_events`. One indexed query per such event, none per send.
 */
export function eventService({ db, clock, config, campaigns, metrics }: EventServiceDeps) {
  /** Pauses the campaign when this event took a rate over the guard's line; returns the campaign it paused. */
  async function guard(trx: Knex, campaignId: number, inboxEventId: number): Promise<PausedCampaign | undefined> {
    const now = clock.now();
    const reading = await readDeliverability(trx, campaignId, new Date(now.getTime() - GUARD_WINDOW_DAYS * 86_400_000));
    if (reading === undefined) return undefined;
    const breaches = guardBreaches(reading);
    if (breaches.length === 0) return undefined;
    const paused = await campaigns.pauseByDrumbeatWithin(trx, campaignId, guardReason(breaches));
    if (paused !== undefined) await insertGuardEvents(trx, campaignId, inboxEventId, breaches, now);
    return paused;
  }

  async function effect(trx: Knex, payload: FeedbackPayload, lead: LeadIdentity | undefined, campaignId: number | null, messageId: number | null): Promise<string> {
    const now = clock.now();
    switch (payload.type) {
      case 'replied': {
        if (lead === undefined) return 'reply from an unknown sender';
        const campaigns = campaignId !== null ? [campaignId] : await liveCampaignIds(trx, lead.id);
        let stopped = 0;
        for (const campaign of campaigns) if (await markReplied(trx, campaign, lead.id, now)) stopped += 1;
        return `replied: ${stopped} sequence(s) stopped`;
      }
      case 'bounced': {
        if (payload.bounce === 'soft') {
          if (lead === undefined) return 'soft bounce of an unknown address';
          const inARow = await softBouncesInARow(trx, lead.id);
          await recordSoftBounces(trx, lead.id, inARow, now);
          if (inARow < config.SOFT_BOUNCE_LIMIT) return `soft bounce ${inARow} of ${config.SOFT_BOUNCE_LIMIT}`;
          const ended = await optOut(trx, { lead, email: payload.email, reason: `${inARow} soft bounces in a row`, endState: 'BOUNCED', now });
          return `soft bounce ${inARow}: suppressed, ${ended} enrollment(s) BOUNCED`;
        }
        const ended = await optOut(trx, { lead, email: payload.email, reason: 'hard bounce', endState: 'BOUNCED', now });
        return `hard bounce: suppressed, ${ended} enrollment(s) BOUNCED`;
      }
      case 'complained':
      case 'unsubscribed': {
        const ended = await optOut(trx, {
          lead,
          email: payload.email,
          reason: payload.type === 'complained' ? 'spam complaint' : 'unsubscribed',
          endState: 'UNSUBSCRIBED',
          unsubscribe: { source: payload.type === 'complained' ? 'complaint' : 'provider', campaignId, messageId },
          now,
        });
        return `${payload.type}: suppressed, ${ended} enrollment(s) UNSUBSCRIBED`;
      }
      default:
        return 'timeline';
    }
  }

  return {
    /** Applies one inbox event if it is not applied yet. */
    async apply(inboxEventId: number): Promise<ApplyResult> {
      const applied = await db.transaction(async (trx): Promise<{ result: ApplyResult; paused: PausedCampaign | undefined; type: string } | undefined> => {
        const event = await lockUnappliedEvent(trx, inboxEventId);
        if (event === undefined) return undefined;
        const { payload } = event;
        const message = await findMessage(trx, payload.messageRefs);
        const lead =
          message !== undefined
            ? await findLeadIdentity(trx, message.lead_id, true)
            : payload.email !== null
              ? await findLeadByEmail(trx, payload.email, true)
              : undefined;
        const campaignId = message?.campaign_id ?? payload.campaignId;
        const type = payload.bounce === null ? payload.type : `${payload.type}_${payload.bounce}`;
        if (lead !== undefined) {
          await addContactEvent(trx, {
            leadId: lead.id,
            campaignId,
            messageId: message?.id ?? null,
            inboxEventId: event.id,
            type,
            data: { provider: event.provider, ...payload.data },
            occurredAt: new Date(payload.occurredAt),
          });
        }
        const note = await effect(trx, payload, lead, campaignId, message?.id ?? null);
        const guarded = campaignId !== null && (payload.type === 'complained' || (payload.type === 'bounced' && payload.bounce === 'hard'));
        const paused = guarded ? await guard(trx, campaignId, event.id) : undefined;
        await markApplied(trx, event.id, clock.now());
        return { result: { outcome: 'applied', note: paused === undefined ? note : `${note}; ${paused.pauseReason ?? ''}: campaign ${paused.id} PAUSED` }, paused, type };
      });
      if (applied === undefined) return { outcome: 'already-applied' };
      metrics.eventsApplied.inc({ type: applied.type });
      if (applied.paused !== undefined) await campaigns.afterPauseByDrumbeat(applied.paused);
      return applied.result;
    },
  };
}

export type EventService = ReturnType<typeof eventService>;
