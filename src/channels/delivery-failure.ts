import type { Channel } from '../core/channels.js';
import { AmbiguousSendError, CircuitOpenError, PermanentSendError, RateLimitedError, SenderFaultError } from './adapter.js';

/**
 * What a failed delivery (a send or a post) means, by whose problem it is. Sends and posts act
 * on the same outcome; only what they change differs (a message and its lead, or a post).
 * - `recipient`: a permanent failure about this recipient → DEAD, the lead ends (hard bounce).
 * - `sender`: the sender, account, relay, token or our own config → nothing is consumed: back
 *   to QUEUED (SCHEDULED), attempt and cap units given back, every campaign using the account
 *   paused with `reason`.
 * - `message`: a permanent failure of this message that is not the recipient's → DEAD.
 * - `transient`: retry with backoff.
 * - `ambiguous`: the provider may have acted → UNKNOWN, never retried on our own.
 * - `rate-limited`, `breaker-open`: wait, spending no attempt.
 */
export type DeliveryFailure =
  | { kind: 'recipient'; reason: string }
  | { kind: 'sender'; reason: string }
  | { kind: 'message'; reason: string }
  | { kind: 'transient'; reason: string }
  | { kind: 'ambiguous'; reason: string }
  | { kind: 'rate-limited'; reason: string; retryAfterMs: number }
  | { kind: 'breaker-open'; reason: string; retryAt: Date };

/**
 * Classifies an adapter or publisher error. Adapters decide whose problem an answer is where
 * they can read it (SMTP stage and status codes, each platform's error shape) and say so with
 * the error class; anything unrecognised is transient, as it always was.
 */
export function classifyDeliveryFailure(error: unknown): DeliveryFailure {
  const reason = error instanceof Error ? error.message : String(error);
  if (error instanceof AmbiguousSendError) return { kind: 'ambiguous', reason };
  if (error instanceof CircuitOpenError) return { kind: 'breaker-open', reason, retryAt: error.retryAt };
  if (error instanceof RateLimitedError) return { kind: 'rate-limited', reason, retryAfterMs: error.retryAfterMs };
  if (error instanceof SenderFaultError) return { kind: 'sender', reason };
  if (error instanceof PermanentSendError) return { kind: error.hardBounce ? 'recipient' : 'message', reason };
  return { kind: 'transient', reason };
}

/** The setting without which a channel has no LIVE adapter. */
const adapterSetting: Record<Channel, string> = {
  email: 'SMTP_URL',
  linkedin: 'LINKEDIN_ACCESS_TOKEN',
  x: 'X_BEARER_TOKEN',
  instagram: 'INSTAGRAM_ACCESS_TOKEN',
};

/** A LIVE send or post on a channel drumbeat has no adapter for: our own configuration's fault. */
export function missingAdapterFailure(channel: Channel): DeliveryFailure {
  return { kind: 'sender', reason: `no LIVE ${channel} adapter: ${adapterSetting[channel]} is not set` };
}
