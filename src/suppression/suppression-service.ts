import type { Knex } from 'knex';
import { z } from 'zod';
import { identityHash } from '../leads/identity.js';
import { addSuppression, type SuppressionKind } from './suppression-store.js';

const domainSchema = z
  .string()
  .regex(/^@?[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain such as @example.com')
  .transform((value) => value.replace(/^@/, '').toLowerCase());

/** Raised for a suppression target that is neither an email address nor an @domain. */
export class SuppressionTargetError extends Error {
  constructor(target: string) {
    super(`"${target}" is neither an email address nor an @domain`);
    this.name = 'SuppressionTargetError';
  }
}

/**
 * Suppresses an email address (stored as its identity hash too, so it outlives erasure) or a
 * whole domain (`@example.com`). Returns what was stored.
 */
export async function suppress(
  db: Knex,
  target: string,
  options: { reason?: string; campaignId?: number | null; createdBy?: string } = {},
): Promise<{ kind: SuppressionKind; value: string }> {
  const reason = options.reason ?? 'manual';
  const email = z.email().safeParse(target.trim().toLowerCase());
  if (email.success) {
    await db.transaction(async (trx) => {
      await addSuppression(trx, { kind: 'email', value: email.data, reason, campaignId: options.campaignId, createdBy: options.createdBy });
      await addSuppression(trx, { kind: 'identity', value: identityHash(email.data), reason, campaignId: options.campaignId, createdBy: options.createdBy });
    });
    return { kind: 'email', value: email.data };
  }
  const domain = domainSchema.safeParse(target.trim());
  if (!domain.success || !target.trim().startsWith('@')) throw new SuppressionTargetError(target);
  await addSuppression(db, { kind: 'domain', value: domain.data, reason, campaignId: options.campaignId, createdBy: options.createdBy });
  return { kind: 'domain', value: domain.data };
}
