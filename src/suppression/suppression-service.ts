import type { Knex } from 'knex';
import { z } from 'zod';
import { DomainError, NotFoundError } from '../core/domain-error.js';
import { findCampaign } from '../campaigns/campaign-store.js';
import { identityHash, normaliseEmail } from '../core/identity.js';
import { isEmailAddress } from '../core/email-address.js';
import { addSuppression, removeSuppressions, type SuppressionKind } from './suppression-store.js';

const domainSchema = z
  .string()
  .regex(/^@?[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain such as @example.com')
  .transform((value) => value.replace(/^@/, '').toLowerCase());

const identitySchema = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 identity hash (64 hex digits)');

/** Raised for a suppression target that is neither an email address, an @domain nor an identity hash. */
export class SuppressionTargetError extends DomainError {
  constructor(target: string) {
    super(`"${target}" is neither an email address, an @domain nor an identity hash (64 hex digits)`, 'invalid');
  }
}

export interface SuppressOptions {
  /** Why; shown in lists and in the send gate's skip reason. @defaultValue 'manual' */
  reason?: string;
  /** Only this campaign; null or absent for everywhere. */
  campaignId?: number | null;
  createdBy?: string;
}

/** What a target names: an address, a whole domain, or an identity hash. */
export function parseSuppressionTarget(target: string): { kind: SuppressionKind; value: string } {
  const trimmed = target.trim();
  if (trimmed.startsWith('@')) {
    const domain = domainSchema.safeParse(trimmed);
    if (domain.success) return { kind: 'domain', value: domain.data };
    throw new SuppressionTargetError(target);
  }
  const email = normaliseEmail(trimmed);
  if (isEmailAddress(email)) return { kind: 'email', value: email };
  const identity = identitySchema.safeParse(trimmed.toLowerCase());
  if (identity.success) return { kind: 'identity', value: identity.data };
  throw new SuppressionTargetError(target);
}

/**
 * Suppresses an email address (stored as its identity hash too, so it outlives erasure), a
 * whole domain (`@example.com`) or an identity hash. Adding it again changes nothing. Returns
 * what was stored.
 */
export async function suppress(db: Knex, target: string, options: SuppressOptions = {}): Promise<{ kind: SuppressionKind; value: string }> {
  const parsed = parseSuppressionTarget(target);
  if (typeof options.campaignId === 'number' && (await findCampaign(db, options.campaignId)) === undefined) {
    throw new NotFoundError(`campaign ${options.campaignId} does not exist`);
  }
  const entry = { reason: options.reason ?? 'manual', campaignId: options.campaignId, createdBy: options.createdBy };
  if (parsed.kind === 'email') {
    await db.transaction(async (trx) => {
      await addSuppression(trx, { ...entry, kind: 'email', value: parsed.value });
      await addSuppression(trx, { ...entry, kind: 'identity', value: identityHash(parsed.value) });
    });
  } else {
    await addSuppression(db, { ...entry, kind: parsed.kind, value: parsed.value });
  }
  return parsed;
}

/**
 * Lifts a suppression. For an address both its email and identity entries go, so that the
 * address can be written to again. Returns how many entries were removed.
 */
export async function unsuppress(db: Knex, target: string, options: { campaignId?: number | null } = {}): Promise<number> {
  const parsed = parseSuppressionTarget(target);
  const scope = options.campaignId ?? null;
  if (parsed.kind === 'email') {
    return db.transaction(
      async (trx) =>
        (await removeSuppressions(trx, { kind: 'email', value: parsed.value, campaignId: scope })) +
        (await removeSuppressions(trx, { kind: 'identity', value: identityHash(parsed.value), campaignId: scope })),
    );
  }
  return removeSuppressions(db, { kind: parsed.kind, value: parsed.value, campaignId: scope });
}
