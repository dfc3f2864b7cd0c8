import { createHash, createHmac } from 'node:crypto';
import type { EmailExtras } from '../adapter.js';

/** What the unsubscribe links and Message-IDs are derived from. */
export interface EmailIdentitySettings {
  /** HMAC key of the tokens. A new key changes the links of later sends only: sent ones are checked by their stored hash. */
  secret: string;
  publicUrl: string;
  /** The List-Unsubscribe mailto target when the campaign gives none better. */
  mailto?: string | undefined;
}

/**
 * The unguessable unsubscribe token of a message: HMAC-SHA256 of its key, base64url. Derived,
 * never stored (only its SHA-256 is, with the message): under one secret the same message always
 * gets the same token (retries send the same link), and a link keeps working for as long as the
 * message row lives, whatever the secret becomes later.
 */
export function unsubscribeToken(secret: string, messageKey: string): string {
  return createHmac('sha256', secret).update(`unsubscribe\n${messageKey}`).digest('base64url');
}

/** What `messages.unsubscribe_token_hash` holds: SHA-256 hex of the token. */
export function unsubscribeTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * The Message-ID, unsubscribe URL and mailto of one campaign email, plus the token hash to store
 * before it is sent. The Message-ID is stable per message so a retry never looks like a new mail.
 */
export function emailIdentity(
  settings: EmailIdentitySettings,
  message: { idempotencyKey: string; fromEmail: string | null; replyTo: string | null },
): EmailExtras & { tokenHash: string } {
  const token = unsubscribeToken(settings.secret, message.idempotencyKey);
  const domain = (message.fromEmail ?? '').split('@')[1] ?? new URL(settings.publicUrl).hostname;
  const salt = createHmac('sha256', settings.secret).update(`message-id\n${message.idempotencyKey}`).digest('hex').slice(0, 16);
  const mailbox = settings.mailto ?? message.replyTo ?? message.fromEmail ?? `unsubscribe@${domain}`;
  return {
    messageId: `<${message.idempotencyKey}.${salt}@${domain}>`,
    unsubscribeUrl: `${settings.publicUrl.replace(/\/+$/, '')}/u/${token}`,
    unsubscribeMailto: `mailto:${mailbox}?subject=unsubscribe%20${token}`,
    tokenHash: unsubscribeTokenHash(token),
  };
}
