import type { Channel } from '../campaigns/campaign-spec.js';
import type { BodyFormat } from '../messages/message-body.js';

/** What an adapter needs to deliver one message; nothing here is a secret. */
export interface OutboundMessage {
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

/** What every campaign email carries besides its content (RFC 8058 and reply threading). */
export interface EmailExtras {
  /** Our own Message-ID, with angle brackets, stored in `messages.provider_message_id`. */
  messageId: string;
  /** The HTTPS one-click unsubscribe URL carrying the message's token. */
  unsubscribeUrl: string;
  /** The `mailto:` alternative of List-Unsubscribe. */
  unsubscribeMailto: string;
}

export interface SendContext {
  /** Aborted when the send's timeout passes or the process shuts down. */
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
 * classified errors below; any other error counts as transient.
 */
export interface ChannelAdapter {
  readonly provider: string;
  /** The sending account (no secret in it), when the adapter has one; breakers are kept per account. */
  readonly account?: string;
  send(message: OutboundMessage, context: SendContext): Promise<SendResult>;
  /** When the adapter's breaker is open: the time a trial call will be let through. */
  openUntil?(): Date | undefined;
}

/** The provider did not act on the request (network, 5xx, 4xx SMTP, timeout before sending): retry with backoff. */
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

/** The provider refused for good (validation, credentials, 5xx recipient rejection). */
export class PermanentSendError extends Error {
  override name = 'PermanentSendError';
  constructor(
    message: string,
    /** True when the recipient address itself was refused: record a hard bounce and suppress it. */
    readonly hardBounce = false,
  ) {
    super(message);
  }
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
