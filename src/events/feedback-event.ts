import { z } from 'zod';
import { jsonNestingDepth, MAX_JSON_DEPTH } from '../core/safe-text.js';

/**
 * What happened to a message or lead, in drumbeat's words, whatever the provider called it.
 * `replied`, `bounced`, `complained` and `unsubscribed` change the lead's state; every other
 * type only lands on the lead's timeline.
 */
export const feedbackTypes = [
  'processed',
  'deferred',
  'delivered',
  'opened',
  'clicked',
  'replied',
  'auto_replied',
  'bounced',
  'dropped',
  'complained',
  'unsubscribed',
] as const;

export type FeedbackType = (typeof feedbackTypes)[number];

/** The providers whose events land in the inbox (the `provider` column of `inbox_events`). */
export type InboxProvider = 'drumbeat' | 'sendgrid' | 'mailgun' | 'inbound';

/**
 * The normalised event stored as `inbox_events.payload` and re-read (and re-parsed) when the
 * `events` queue applies it. `messageRefs` are Message-IDs or provider message ids to match
 * against our messages; `email` is the fallback match by address.
 */
export const feedbackPayloadSchema = z.object({
  type: z.enum(feedbackTypes),
  email: z.string().nullable(),
  occurredAt: z.iso.datetime({ offset: true }),
  messageRefs: z.array(z.string()).default([]),
  campaignId: z.number().int().positive().nullable().default(null),
  bounce: z.enum(['hard', 'soft']).nullable().default(null),
  data: z.record(z.string(), z.unknown()).default({}),
});

export type FeedbackPayload = z.infer<typeof feedbackPayloadSchema>;

/** One event ready for the inbox: its unique key there, and what it says. */
export interface InboxEventInput {
  provider: InboxProvider;
  eventId: string;
  payload: FeedbackPayload;
  /** The request body kept as received, when its text had to be cleaned to be stored. */
  rawBodyId?: number;
}

/** Raised for a request whose body is not what the route accepts (answered 400). */
export class MalformedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedEventError';
  }
}

/** The bare Message-ID (no angle brackets, no spaces) so that `<a@b>` and `a@b` match. */
export function bareMessageId(value: string): string {
  return value.trim().replace(/^<|>$/g, '');
}

/** Parses a JSON body, refusing one nested too deeply to be read safely. */
export function parseJsonBody(rawBody: Buffer): unknown {
  const text = rawBody.toString('utf8');
  if (jsonNestingDepth(text) > MAX_JSON_DEPTH) throw new MalformedEventError(`body nests JSON deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new MalformedEventError('body is not valid JSON');
  }
}
