import { createHash } from 'node:crypto';

/** Lower-cases and trims an email address: the one form stored and compared. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * SHA-256 of the normalised email: the identity used for cross-campaign dedup and for
 * suppressions that must outlive erasure of the address itself.
 */
export function identityHash(email: string): string {
  return createHash('sha256').update(normaliseEmail(email)).digest('hex');
}
