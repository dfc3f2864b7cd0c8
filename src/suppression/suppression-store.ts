import type { Knex } from 'knex';

export const SUPPRESSIONS = 'suppressions';

export type SuppressionKind = 'email' | 'domain' | 'identity';

export interface Suppression {
  id: number;
  kind: SuppressionKind;
  value: string;
  campaignId: number | null;
  reason: string;
  createdAt: Date;
}

interface SuppressionRow {
  id: number;
  kind: SuppressionKind;
  value: string;
  campaign_id: number | null;
  reason: string;
  created_at: Date;
}

function rowToSuppression(row: SuppressionRow): Suppression {
  return { id: row.id, kind: row.kind, value: row.value, campaignId: row.campaign_id, reason: row.reason, createdAt: row.created_at };
}

/** Adds a suppression once; adding the same one again changes nothing. Returns whether it was new. */
export async function addSuppression(
  db: Knex,
  entry: { kind: SuppressionKind; value: string; campaignId?: number | null; reason: string; createdBy?: string },
): Promise<boolean> {
  const result = await db.raw<{ rowCount: number }>(
    `INSERT INTO suppressions (kind, value, campaign_id, reason, created_by) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (kind, value, coalesce(campaign_id, 0)) DO NOTHING`,
    [entry.kind, entry.value, entry.campaignId ?? null, entry.reason, entry.createdBy ?? null],
  );
  return result.rowCount === 1;
}

/** Suppressions in id order, optionally of one kind and/or one campaign scope, keyset-paged. */
export async function listSuppressions(
  db: Knex,
  filter: { kind?: SuppressionKind; campaignId?: number | null; afterId?: number; limit?: number } = {},
): Promise<Suppression[]> {
  const query = db(SUPPRESSIONS).orderBy('id').where('id', '>', filter.afterId ?? 0);
  if (filter.kind !== undefined) query.andWhere({ kind: filter.kind });
  if (filter.campaignId !== undefined) {
    if (filter.campaignId === null) query.whereNull('campaign_id');
    else query.andWhere({ campaign_id: filter.campaignId });
  }
  if (filter.limit !== undefined) query.limit(filter.limit);
  const rows = (await query) as SuppressionRow[];
  return rows.map(rowToSuppression);
}

/** Removes one suppression (kind, value, scope: null = global). Returns how many rows went. */
export async function removeSuppressions(db: Knex, entry: { kind: SuppressionKind; value: string; campaignId: number | null }): Promise<number> {
  const query = db(SUPPRESSIONS).where({ kind: entry.kind, value: entry.value });
  if (entry.campaignId === null) query.whereNull('campaign_id');
  else query.andWhere({ campaign_id: entry.campaignId });
  return query.delete();
}

/**
 * The SQL condition (for a row aliased `l` of leads and a campaign id expression) that is true
 * when the lead is suppressed by email, domain or identity, globally or for that campaign.
 * Used inside the statements that need the answer under their own lock or in their own result
 * (the send claim, the dead-letter list, the retry of DEAD messages), so a suppression check
 * costs no extra round trip. The send-context query names the suppression instead (its kind
 * and reason, for the skip reason).
 */
export function suppressedLeadSql(campaignIdExpression: string): string {
  return `EXISTS (
    SELECT 1 FROM suppressions s
    WHERE (s.campaign_id IS NULL OR s.campaign_id = ${campaignIdExpression})
      AND ((s.kind = 'identity' AND s.value = l.identity_hash)
        OR (s.kind = 'email' AND s.value = l.email)
        OR (s.kind = 'domain' AND s.value = split_part(l.email, '@', 2)))
  )`;
}

/**
 * Of the given addresses (normalised email with its identity hash), those suppressed for the
 * campaign (globally or for it) by email, domain or identity, as identity hashes; one query.
 */
export async function suppressedIdentities(
  db: Knex,
  campaignId: number | null,
  entries: ReadonlyArray<{ email: string; identityHash: string }>,
): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  const { rows } = await db.raw<{ rows: Array<{ identity: string }> }>(
    `SELECT x.identity FROM unnest(?::text[], ?::text[]) AS x(email, identity)
      WHERE EXISTS (
        SELECT 1 FROM suppressions s
         WHERE (s.campaign_id IS NULL OR s.campaign_id = ?::bigint)
           AND ((s.kind = 'identity' AND s.value = x.identity)
             OR (s.kind = 'email' AND s.value = x.email)
             OR (s.kind = 'domain' AND s.value = split_part(x.email, '@', 2))))`,
    [entries.map((entry) => entry.email), entries.map((entry) => entry.identityHash), campaignId],
  );
  return new Set(rows.map((row) => row.identity));
}
