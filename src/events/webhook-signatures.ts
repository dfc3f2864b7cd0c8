import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

/** Raised when a webhook fails authentication; answered 401 and nothing is stored. */
export class WebhookAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookAuthError';
  }
}

function equalHex(expectedHex: string, givenHex: string): boolean {
  if (!/^[0-9a-f]+$/i.test(givenHex) || givenHex.length !== expectedHex.length) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'hex'), Buffer.from(givenHex, 'hex'));
}

/** Refuses a signed timestamp (unix seconds) further than `toleranceMs` from `now`, either way. */
export function checkTimestamp(timestamp: string | undefined, now: Date, toleranceMs: number): void {
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) throw new WebhookAuthError('missing or malformed timestamp');
  if (Math.abs(now.getTime() - Number(timestamp) * 1000) > toleranceMs) throw new WebhookAuthError('timestamp outside the allowed window');
}

/**
 * The `Drumbeat-Signature` header value for a body: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<raw body>">`. Used by bridges (and tests) that post to `/webhooks/events` or `/webhooks/inbound`.
 */
export function signDrumbeat(secret: string, rawBody: Buffer | string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.`).update(rawBody).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * Verifies a `Drumbeat-Signature` header over the raw bytes. Several `v1=` entries may be given
 * (secret rotation); one matching is enough.
 * @throws WebhookAuthError on a missing, stale or wrong signature.
 */
export function verifyDrumbeatSignature(header: string | undefined, rawBody: Buffer, secret: string, now: Date, toleranceMs: number): void {
  if (header === undefined) throw new WebhookAuthError('missing Drumbeat-Signature header');
  const parts = header.split(',').map((part) => part.trim().split('=', 2) as [string, string | undefined]);
  const timestamp = parts.find(([key]) => key === 't')?.[1];
  checkTimestamp(timestamp, now, toleranceMs);
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
  const matched = parts.some(([key, value]) => key === 'v1' && value !== undefined && equalHex(expected, value));
  if (!matched) throw new WebhookAuthError('signature does not match');
}

/** Parses SendGrid's verification key as shown in its settings: base64 DER (SPKI), or PEM. */
export function sendgridPublicKey(configured: string): KeyObject {
  if (configured.includes('BEGIN PUBLIC KEY')) return createPublicKey(configured);
  return createPublicKey({ key: Buffer.from(configured, 'base64'), format: 'der', type: 'spki' });
}

/**
 * Verifies SendGrid's Signed Event Webhook: an ECDSA P-256 / SHA-256 signature (base64 DER) of
 * the timestamp header followed by the raw body.
 * @throws WebhookAuthError on a missing, stale or wrong signature.
 */
export function verifySendgridSignature(
  signature: string | undefined,
  timestamp: string | undefined,
  rawBody: Buffer,
  key: KeyObject,
  now: Date,
  toleranceMs: number,
): void {
  if (signature === undefined || signature === '') throw new WebhookAuthError('missing X-Twilio-Email-Event-Webhook-Signature header');
  checkTimestamp(timestamp, now, toleranceMs);
  const signed = Buffer.concat([Buffer.from(timestamp ?? '', 'utf8'), rawBody]);
  let valid = false;
  try {
    valid = verify('sha256', signed, { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) throw new WebhookAuthError('signature does not match');
}

/**
 * Verifies a Mailgun webhook signature: hex HMAC-SHA256 of timestamp + token with the signing
 * key. Mailgun signs these two fields only, not the body; the token is refused if seen before
 * (that check needs the database and is made where the event is stored).
 * @throws WebhookAuthError on a missing, stale or wrong signature.
 */
export function verifyMailgunSignature(
  fields: { timestamp: string; token: string; signature: string },
  signingKey: string,
  now: Date,
  toleranceMs: number,
): void {
  checkTimestamp(fields.timestamp, now, toleranceMs);
  const expected = createHmac('sha256', signingKey).update(fields.timestamp + fields.token).digest('hex');
  if (!equalHex(expected, fields.signature)) throw new WebhookAuthError('signature does not match');
}
