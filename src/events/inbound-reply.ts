import { createHash } from 'node:crypto';
import { simpleParser, type HeaderValue } from 'mailparser';
import { z } from 'zod';
import { bareMessageId, MalformedEventError, parseJsonBody, type InboxEventInput } from './feedback-event.js';

/** Subjects of out-of-office and other automatic answers, in the languages seen most. */
const autoReplySubject =
  /^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|autoreply|out of (the )?office|ooo\b|abwesenheit|automatische antwort|réponse automatique|respuesta automática|risposta automatica|autosvar|afwezig)/i;

/** The fields of an inbound reply that matter, whether it came as MIME or as JSON. */
export interface InboundMail {
  from: string | null;
  subject: string;
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  date: Date | null;
  text: string;
  headers: Record<string, string>;
}

/**
 * True for automatic answers (RFC 3834 `Auto-Submitted` other than `no`, `X-Autoreply`,
 * `X-Autorespond`, `Precedence: auto_reply|bulk|junk`, out-of-office subjects): they are
 * recorded on the timeline but are not replies and do not stop a sequence.
 */
export function isAutoReply(mail: Pick<InboundMail, 'headers' | 'subject'>): boolean {
  const header = (name: string) => mail.headers[name]?.trim().toLowerCase();
  const autoSubmitted = header('auto-submitted');
  if (autoSubmitted !== undefined && autoSubmitted !== 'no') return true;
  if (header('x-autoreply') !== undefined || header('x-autorespond') !== undefined || header('x-auto-response-suppress') === 'all') return true;
  const precedence = header('precedence');
  if (precedence === 'auto_reply' || precedence === 'bulk' || precedence === 'junk') return true;
  return autoReplySubject.test(mail.subject);
}

function messageIds(value: string | string[] | undefined): string[] {
  const joined = Array.isArray(value) ? value.join(' ') : (value ?? '');
  const bracketed = joined.match(/<[^<>\s]+>/g);
  const ids = bracketed ?? joined.split(/\s+/);
  return ids.map(bareMessageId).filter((id) => id !== '');
}

function headerText(value: HeaderValue): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'string' ? item : item.value)).join(', ');
  if ('text' in value) return value.text;
  return value.value;
}

async function parseMime(rawBody: Buffer): Promise<InboundMail> {
  const parsed = await simpleParser(rawBody, { skipHtmlToText: true, skipImageLinks: true, skipTextToHtml: true });
  const headers: Record<string, string> = {};
  for (const [key, value] of parsed.headers) headers[key] = headerText(value);
  return {
    from: parsed.from?.value[0]?.address?.toLowerCase() ?? null,
    subject: parsed.subject ?? '',
    messageId: parsed.messageId === undefined ? null : bareMessageId(parsed.messageId),
    inReplyTo: messageIds(parsed.inReplyTo),
    references: messageIds(parsed.references),
    date: parsed.date ?? null,
    text: parsed.text ?? '',
    headers,
  };
}

const inboundJsonSchema = z.object({
  from: z.string().trim().toLowerCase().min(3).max(320),
  subject: z.string().max(2000).default(''),
  messageId: z.string().max(998).optional(),
  inReplyTo: z.string().max(998).optional(),
  references: z.union([z.string().max(20_000), z.array(z.string().max(998)).max(200)]).optional(),
  date: z.iso.datetime({ offset: true }).optional(),
  text: z.string().max(200_000).default(''),
  headers: z.record(z.string(), z.string().max(2000)).default({}),
});

function parseJsonMail(rawBody: Buffer): InboundMail {
  const parsed = inboundJsonSchema.safeParse(parseJsonBody(rawBody));
  if (!parsed.success) throw new MalformedEventError(z.prettifyError(parsed.error));
  const mail = parsed.data;
  const from = /<([^<>]+)>/.exec(mail.from)?.[1] ?? mail.from;
  return {
    from,
    subject: mail.subject,
    messageId: mail.messageId === undefined ? null : bareMessageId(mail.messageId),
    inReplyTo: messageIds(mail.inReplyTo),
    references: messageIds(mail.references),
    date: mail.date === undefined ? null : new Date(mail.date),
    text: mail.text,
    headers: Object.fromEntries(Object.entries(mail.headers).map(([key, header]) => [key.toLowerCase(), header])),
  };
}

/**
 * An inbound reply (`POST /webhooks/inbound`) as an inbox event: JSON when the content type
 * says so, raw MIME otherwise. Its inbox key is its Message-ID (or a hash of the bytes when it
 * has none), so the same mail delivered twice is applied once.
 */
export async function inboundEvent(rawBody: Buffer, contentType: string | undefined, now: Date): Promise<InboxEventInput> {
  if (rawBody.length === 0) throw new MalformedEventError('empty body');
  const mail = /json/i.test(contentType ?? '') ? parseJsonMail(rawBody) : await parseMime(rawBody);
  if (mail.from === null) throw new MalformedEventError('the mail has no From address');
  const auto = isAutoReply(mail);
  return {
    provider: 'inbound',
    eventId: mail.messageId ?? `sha256-${createHash('sha256').update(rawBody).digest('hex')}`,
    payload: {
      type: auto ? 'auto_replied' : 'replied',
      email: mail.from,
      occurredAt: (mail.date !== null && !Number.isNaN(mail.date.getTime()) ? mail.date : now).toISOString(),
      // The direct parent first, then the thread: the first that is one of ours wins.
      messageRefs: [...mail.inReplyTo, ...mail.references.slice().reverse()],
      campaignId: null,
      bounce: null,
      data: { subject: mail.subject, messageId: mail.messageId, snippet: mail.text.slice(0, 500) },
    },
  };
}
