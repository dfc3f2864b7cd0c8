import type { Channel } from '../core/channels.js';
import type { BodyFormat } from '../core/message-body.js';

/** The fields every outbound message has; nothing here is a secret. */
export interface OutboundFields {
  id: number;
  idempotencyKey: string;
  campaignId: number;
  channel: Channel;
  recipient: string;
  subject: string | null;
  body: string;
  /** What `body` is: `text` (as the reader sees it) or `html` (escaped once, at render); social channels are always text. */
  format: BodyFormat;
  fromName: string | null;
  fromEmail: string | null;
  replyTo: string | null;
  /** Email only: our Message-ID and the one-click unsubscribe targets, fixed before the send. */
  email?: EmailExtras;
  /** Email only: the reply headers of a follow-up, fixed when the message was planned. */
  thread?: EmailThread;
}

/** The reply headers of a follow-up email. */
export interface EmailThread {
  /** The Message-ID (with angle brackets) of the email this one replies to. */
  inReplyTo: string | null;
  /** The References header: the thread's Message-IDs, oldest first, space-separated. */
  references: string | null;
}

/** A campaign email: it always carries its Message-ID and unsubscribe link. */
export interface OutboundEmail extends OutboundFields {
  channel: 'email';
  email: EmailExtras;
}

/** A direct message on a social platform. */
export interface OutboundDirectMessage extends OutboundFields {
  channel: Exclude<Channel, 'email'>;
  email?: undefined;
}

/**
 * What an adapter needs to deliver one message. An email without its Message-ID and
 * unsubscribe link cannot be built: the type requires them.
 */
export type OutboundMessage = OutboundEmail | OutboundDirectMessage;

/** What every campaign email carries besides its content (RFC 8058 and reply threading). */
export interface EmailExtras {
  /** Our own Message-ID, with angle brackets, stored in `messages.provider_message_id`. */
  messageId: string;
  /** The HTTPS one-click unsubscribe URL carrying the message's token. */
  unsubscribeUrl: string;
  /** The `mailto:` alternative of List-Unsubscribe. */
  unsubscribeMailto: string;
}

/** What a caller hands an adapter with a message. */
export interface SendContext {
  /**
   * Aborts the call. A guarded adapter (`channels/resilience/guarded-adapter.ts`) passes its
   * own, aborted when the send timeout passes, and links a caller's to it.
   */
  signal: AbortSignal;
}

export interface SendResult {
  provider: string;
  externalId: string;
  /** A short, secret-free summary of the provider's answer, stored for operators. */
  summary?: string;
}

/**
 * One channel's delivery. `send` resolves with the provider's id, or throws one of the
 * classified errors below; any other error counts as transient. The delivery pipeline calls it
 * without a context: the guard around a LIVE adapter enforces the send timeout and gives the
 * provider call its abort signal.
 */
export interface ChannelAdapter {
  readonly provider: string;
  /** The sending account (no secret in it), when the adapter has one; breakers are kept per account. */
  readonly account?: string;
  send(message: OutboundMessage, context?: SendContext): Promise<SendResult>;
  /** When the adapter's breaker is open: the time a trial call will be let through. */
  openUntil?(): Date | undefined;
}

/** The provider did not act on the request (network, HTTP 5xx, an SMTP 4xx about the message, a timeout before sending): retry with backoff. */
export class TransientSendError extends Error {
  override name = 'TransientSendError';
}

/** The provider asked us to slow down; retry after `retryAfterMs` without spending an attempt. */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/**
 * The provider refused this message for good: its content or request (a refused body, a
 * malformed request), or — with `hardBounce` — its recipient (an unknown or disabled mailbox,
 * a user the platform says cannot be messaged). Never used for the sender's own faults.
 */
export class PermanentSendError extends Error {
  override name = 'PermanentSendError';
  constructor(
    message: string,
    /** True when the failure is about this recipient: end the lead (and suppress an email address). */
    readonly hardBounce = false,
  ) {
    super(message);
  }
}

/**
 * The sender's side failed, not this message or recipient: credentials refused, a quota or
 * throttle of the account, the relay refusing the sender by policy, the relay unreachable or
 * its TLS failing, a token the platform refuses, or drumbeat's own configuration. Every
 * message through that account would fail alike, so none is consumed: the message goes back
 * to QUEUED with its attempt given back and the campaigns sending through the account pause.
 * The message quotes the provider's answer (never a secret).
 */
export class SenderFaultError extends Error {
  override name = 'SenderFaultError';
}

/** The request may have been acted on (timeout after it was sent): never retried automatically. */
export class AmbiguousSendError extends Error {
  override name = 'AmbiguousSendError';
}

/** The adapter's circuit breaker is open: nothing was sent; hold the job until `retryAt`, spending no attempt. */
export class CircuitOpenError extends Error {
  override name = 'CircuitOpenError';
  constructor(
    message: string,
    readonly retryAt: Date,
  ) {
    super(message);
  }
}
