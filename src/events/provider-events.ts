import { z } from 'zod';
import { bareMessageId, MalformedEventError, parseJsonBody, type FeedbackType, type InboxEventInput } from './feedback-event.js';


function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new MalformedEventError(z.prettifyError(parsed.error));
  return parsed.data;
}

const lowerEmail = z.string().trim().toLowerCase().min(3).max(320);

const genericEventSchema = z
  .object({
    id: z.string().trim().min(1).max(200),
    type: z.enum(['delivered', 'opened', 'clicked', 'replied', 'bounced', 'complained', 'unsubscribed']),
    occurredAt: z.iso.datetime({ offset: true }),
    email: lowerEmail,
    messageId: z.string().trim().min(1).max(998).optional(),
    campaignId: z.number().int().positive().optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((event, ctx) => {
    if (event.type === 'bounced' && event.data?.kind !== 'hard' && event.data?.kind !== 'soft') {
      ctx.addIssue({ code: 'custom', path: ['data', 'kind'], message: 'a bounced event needs data.kind "hard" or "soft"' });
    }
  });

const genericBodySchema = z.union([genericEventSchema, z.array(genericEventSchema).min(1).max(1000)]);

/** Events of drumbeat's own format (`POST /webhooks/events`): one object or an array of them. */
export function genericEvents(rawBody: Buffer): InboxEventInput[] {
  const body = parseWith(genericBodySchema, parseJsonBody(rawBody));
  return (Array.isArray(body) ? body : [body]).map((event) => ({
    provider: 'drumbeat',
    eventId: event.id,
    payload: {
      type: event.type,
      email: event.email,
      occurredAt: new Date(event.occurredAt).toISOString(),
      messageRefs: event.messageId === undefined ? [] : [bareMessageId(event.messageId)],
      campaignId: event.campaignId ?? null,
      bounce: event.type === 'bounced' ? (event.data?.kind === 'soft' ? 'soft' : 'hard') : null,
      data: event.data ?? {},
    },
  }));
}

const sendgridEventSchema = z.looseObject({
  sg_event_id: z.string().min(1).max(200),
  event: z.string().min(1).max(50),
  email: lowerEmail,
  timestamp: z.number().int().nonnegative(),
  sg_message_id: z.string().max(500).optional(),
  'smtp-id': z.string().max(998).optional(),
  type: z.string().max(50).optional(),
  reason: z.string().max(2000).optional(),
  status: z.string().max(50).optional(),
  url: z.string().max(4000).optional(),
  drumbeat_campaign_id: z.union([z.string(), z.number()]).optional(),
});

const sendgridBodySchema = z.array(sendgridEventSchema).min(1).max(10_000);

/** SendGrid's event names in drumbeat's words; a `dropped` is read by its reason. */
function sendgridType(event: z.infer<typeof sendgridEventSchema>): { type: FeedbackType; bounce: 'hard' | 'soft' | null } {
  switch (event.event) {
    case 'delivered':
      return { type: 'delivered', bounce: null };
    case 'open':
      return { type: 'opened', bounce: null };
    case 'click':
      return { type: 'clicked', bounce: null };
    case 'bounce':
      // SendGrid reports a temporary block as a bounce of type "blocked": count it as soft.
      return { type: 'bounced', bounce: event.type === 'blocked' ? 'soft' : 'hard' };
    case 'deferred':
      return { type: 'deferred', bounce: null };
    case 'spamreport':
      return { type: 'complained', bounce: null };
    case 'unsubscribe':
    case 'group_unsubscribe':
      return { type: 'unsubscribed', bounce: null };
    case 'dropped': {
      // SendGrid drops mail to addresses on its own suppression lists; mirror the list's meaning.
      const reason = event.reason ?? '';
      if (/bounced|invalid/i.test(reason)) return { type: 'bounced', bounce: 'hard' };
      if (/spam/i.test(reason)) return { type: 'complained', bounce: null };
      if (/unsubscribed/i.test(reason)) return { type: 'unsubscribed', bounce: null };
      return { type: 'dropped', bounce: null };
    }
    default:
      return { type: 'processed', bounce: null };
  }
}

/** Events of a SendGrid Event Webhook batch (`POST /webhooks/sendgrid`). */
export function sendgridEvents(rawBody: Buffer): InboxEventInput[] {
  const events = parseWith(sendgridBodySchema, parseJsonBody(rawBody));
  return events.map((event) => {
    const { type, bounce } = sendgridType(event);
    const refs: string[] = [];
    if (event['smtp-id'] !== undefined) refs.push(bareMessageId(event['smtp-id']));
    // sg_message_id is the X-Message-Id returned on send, followed by ".filter…" routing detail.
    if (event.sg_message_id !== undefined) refs.push(event.sg_message_id.split('.')[0] ?? event.sg_message_id);
    const campaignId = Number(event.drumbeat_campaign_id);
    return {
      provider: 'sendgrid',
      eventId: event.sg_event_id,
      payload: {
        type,
        email: event.email,
        occurredAt: new Date(event.timestamp * 1000).toISOString(),
        messageRefs: refs,
        campaignId: Number.isInteger(campaignId) && campaignId > 0 ? campaignId : null,
        bounce,
        data: { event: event.event, reason: event.reason, status: event.status, url: event.url, bounceType: event.type },
      },
    };
  });
}

const mailgunBodySchema = z.object({
  signature: z.object({
    timestamp: z.string().min(1).max(20),
    token: z.string().min(1).max(200),
    signature: z.string().min(1).max(200),
  }),
  'event-data': z.looseObject({
    id: z.string().min(1).max(200),
    event: z.string().min(1).max(50),
    timestamp: z.number().nonnegative(),
    recipient: lowerEmail,
    severity: z.string().max(50).optional(),
    reason: z.string().max(2000).optional(),
    url: z.string().max(4000).optional(),
    'delivery-status': z.looseObject({ code: z.number().optional(), message: z.string().optional() }).optional(),
    message: z.looseObject({ headers: z.looseObject({ 'message-id': z.string().max(998).optional() }).optional() }).optional(),
    'user-variables': z.record(z.string(), z.unknown()).optional(),
  }),
});

/** A parsed Mailgun webhook: its signature fields (verified by the caller) and its event. */
export interface MailgunWebhook {
  signature: { timestamp: string; token: string; signature: string };
  event: InboxEventInput;
}

function mailgunType(event: string, severity: string | undefined): { type: FeedbackType; bounce: 'hard' | 'soft' | null } {
  switch (event) {
    case 'delivered':
      return { type: 'delivered', bounce: null };
    case 'opened':
      return { type: 'opened', bounce: null };
    case 'clicked':
      return { type: 'clicked', bounce: null };
    case 'failed':
      return { type: 'bounced', bounce: severity === 'temporary' ? 'soft' : 'hard' };
    case 'complained':
      return { type: 'complained', bounce: null };
    case 'unsubscribed':
      return { type: 'unsubscribed', bounce: null };
    default:
      return { type: 'processed', bounce: null };
  }
}

/** A Mailgun webhook (`POST /webhooks/mailgun`, JSON as Mailgun sends it). */
export function mailgunWebhook(rawBody: Buffer): MailgunWebhook {
  const body = parseWith(mailgunBodySchema, parseJsonBody(rawBody));
  const data = body['event-data'];
  const { type, bounce } = mailgunType(data.event, data.severity);
  const messageId = data.message?.headers?.['message-id'];
  const campaignId = Number(data['user-variables']?.drumbeat_campaign_id);
  return {
    signature: body.signature,
    event: {
      provider: 'mailgun',
      eventId: data.id,
      payload: {
        type,
        email: data.recipient,
        occurredAt: new Date(Math.round(data.timestamp * 1000)).toISOString(),
        messageRefs: messageId === undefined ? [] : [bareMessageId(messageId)],
        campaignId: Number.isInteger(campaignId) && campaignId > 0 ? campaignId : null,
        bounce,
        data: { event: data.event, severity: data.severity, reason: data.reason, url: data.url, deliveryStatus: data['delivery-status'] },
      },
    },
  };
}
