import type { Knex } from 'knex';
import { identityHash, normaliseEmail } from '../core/identity.js';
import { isEmailAddress } from '../core/email-address.js';
import { SUPPRESSIONS, type Suppression, type SuppressionKind } from './suppression-store.js';

interface SuppressionRow {
  id: string | number;
  kind: SuppressionKind;
  value: string;
  campaign_id: string | number | null;
  reason: string;
  created_at: Date;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/**
 * Suppressions whose value contains `text` (case-insensitive) — and, for a whole address, its
 * identity hash, so a forgotten person's suppression is found by their address — of `kind`
 * when given, by id, keyset-paged: those after `afterId`, at most `limit`.
 */
export async function searchSuppressions(db: Knex, filter: { text?: string; kind?: SuppressionKind; afterId?: number }, limit: number): Promise<Suppression[]> {
  const query = db(SUPPRESSIONS).orderBy('id').limit(limit);
  if (filter.afterId !== undefined) query.where('id', '>', filter.afterId);
  if (filter.kind !== undefined) query.where('kind', filter.kind);
  const text = filter.text?.trim();
  if (text !== undefined && text !== '') {
    const address = normaliseEmail(text);
    query.where((inner) => {
      void inner.whereILike('value', `%${escapeLike(text)}%`);
      if (isEmailAddress(address)) void inner.orWhere({ kind: 'identity', value: identityHash(address) });
    });
  }
  const rows = (await query) as SuppressionRow[];
  return rows.map((row) => ({
    id: Number(row.id),
    kind: row.kind,
    value: row.value,
    campaignId: row.campaign_id === null ? null : Number(row.campaign_id),
    reason: row.reason,
    createdAt: row.created_at,
  }));
}
