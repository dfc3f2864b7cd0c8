import type { CampaignStatus } from '../campaigns/campaign-store.js';
import { isInsideWindow, nextWindowOpening } from '../campaigns/send-window.js';
import type { CampaignGate, DeliveryFacts } from '../delivery/delivery-pipeline.js';
import type { Hold } from '../delivery/delivery-decision.js';
import { ENDED_ENROLLMENT_STATES, type EnrollmentEffect } from '../enrollments/enrollment-lifecycle.js';
import { SENDABLE_STATUSES } from './message-lifecycle.js';
import type { SendContextRow } from './message-store.js';

/** What each campaign status means for a send: only an ACTIVE campaign sends; an ended one's messages are skipped. */
const sendCampaignGate: Readonly<Record<CampaignStatus, CampaignGate>> = {
  DRAFT: 'hold',
  ACTIVE: 'deliver',
  PAUSED: 'hold',
  COMPLETED: 'skip',
  ARCHIVED: 'skip',
};

const endedEnrollmentStates = new Set<string>(ENDED_ENROLLMENT_STATES);
const sendableStatuses = new Set<string>(SENDABLE_STATUSES);

/** What the delivery pipeline's shared gates read of a send context. */
export function sendFacts(context: SendContextRow): DeliveryFacts {
  return {
    status: context.status,
    deliverable: sendableStatuses.has(context.status),
    killed: context.killed,
    campaignStatus: context.campaign_status,
    campaignGate: sendCampaignGate[context.campaign_status],
  };
}

/** A gate that ends the message unsent: the reason, and what it does to the lead's sequence. */
export interface SendSkip {
  kind: 'skip';
  reason: string;
  effect: EnrollmentEffect;
}

/** A send context the address gate let through: it has its recipient and its body. */
export type AddressedSendContext = SendContextRow & { recipient: string; body: string };

/** Whether the message has a recipient and a body (a lead without an address on the channel has neither). */
export function isAddressed(context: SendContextRow): context is AddressedSendContext {
  return context.recipient !== null && context.body !== null;
}

/**
 * The message's own gates, after the shared ones (status, kill switch, campaign), most final
 * first: the lead is live and has not replied (when its step stops on a reply), is not
 * suppressed, has an address on the channel, and the send window is open in its time zone.
 */
export function sendGate(context: SendContextRow, now: Date): SendSkip | Hold | undefined {
  const state = context.enrollment_state;
  if (state === 'REPLIED' && context.stop_on_reply) return { kind: 'skip', reason: 'lead replied', effect: { kind: 'none' } };
  if (endedEnrollmentStates.has(state) && state !== 'REPLIED') return { kind: 'skip', reason: `lead ${state.toLowerCase()}`, effect: { kind: 'none' } };
  if (context.suppressed_by !== null) {
    return { kind: 'skip', reason: `suppressed: ${context.suppressed_by}`, effect: { kind: 'end', state: 'SUPPRESSED', reason: context.suppressed_by } };
  }
  if (!isAddressed(context)) return { kind: 'skip', reason: `lead has no ${context.channel} address`, effect: { kind: 'advance' } };
  const zone = context.lead_timezone ?? context.timezone;
  if (!isInsideWindow(now, zone, context.send_window)) {
    return { kind: 'hold', until: nextWindowOpening(now, zone, context.send_window), reason: 'outside send window' };
  }
  return undefined;
}

/**
 * Why a retried DEAD message (a Bull Board retry of its failed job) is not sent, and what the
 * operator can do: `drumbeat messages retry` reopens a COMPLETED campaign or a FAILED lead.
 */
export function deadLetterRefusal(context: SendContextRow, reason: string): string {
  const reopen = `run "drumbeat messages retry ${context.id}" to reopen it`;
  if (context.campaign_status === 'COMPLETED') return `not sent: campaign ${context.campaign_id} is COMPLETED; ${reopen}`;
  if (context.campaign_status === 'ARCHIVED') return `not sent: campaign ${context.campaign_id} is ARCHIVED; message ${context.id} stays DEAD`;
  if (context.enrollment_state === 'FAILED') return `not sent: the lead's sequence in campaign ${context.campaign_id} ended FAILED; ${reopen}`;
  return `not sent: ${reason.startsWith('suppressed: ') ? `the lead is ${reason}` : reason}; message ${context.id} stays DEAD`;
}
