import type { Knex } from 'knex';
import type { Config } from '../config/config.js';
import type { Channel } from '../core/channels.js';
import { localDay, nextLocalMidnight } from '../campaigns/send-window.js';

/** One daily cap that applies to a send: a counter row of `send_counters` per scope and day. */
export interface CapScope {
  /**
   * `global`, `channel-<channel>` (e.g. `channel-email`) or `campaign-<id>`: the key of the
   * counter rows. (The core schema's comment spells them with `:`; the rows never did.)
   */
  scope: string;
  /** The day counted: the UTC day for `global` and `channel-…`, the campaign's local day for `campaign-…`. */
  day: string;
  limit: number;
  resetsAt: Date;
}

const channelCapSetting: Record<Channel, keyof Config> = {
  email: 'EMAIL_DAILY_CAP',
  linkedin: 'LINKEDIN_DAILY_CAP',
  x: 'X_DAILY_CAP',
  instagram: 'INSTAGRAM_DAILY_CAP',
};

/**
 * The caps that apply to a send now: `global` and `channel-<channel>` (UTC days, from config)
 * and `campaign-<id>` (the campaign's local day). `channel` null leaves out the channel cap (the
 * campaign gate of the tick and the idle check: a tick plans every channel's messages). Sorted
 * by scope so that every worker locks counter rows in the same order.
 */
export function capScopes(
  config: Config,
  campaign: { id: number; dailyCap: number | null; timezone: string },
  channel: Channel | null,
  now: Date,
): CapScope[] {
  const scopes: CapScope[] = [];
  const utcDay = now.toISOString().slice(0, 10);
  // The next UTC midnight, computed without time-zone formatting: this runs for every send.
  const utcReset = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  if (config.GLOBAL_DAILY_CAP !== undefined) {
    scopes.push({ scope: 'global', day: utcDay, limit: config.GLOBAL_DAILY_CAP, resetsAt: utcReset });
  }
  const channelCap = channel === null ? undefined : config[channelCapSetting[channel]];
  if (channel !== null && typeof channelCap === 'number') {
    scopes.push({ scope: `channel-${channel}`, day: utcDay, limit: channelCap, resetsAt: utcReset });
  }
  if (campaign.dailyCap !== null) {
    scopes.push({
      scope: `campaign-${campaign.id}`,
      day: localDay(now, campaign.timezone),
      limit: campaign.dailyCap,
      resetsAt: nextLocalMidnight(now, campaign.timezone),
    });
  }
  return scopes.sort((a, b) => a.scope.localeCompare(b.scope));
}

/** What the caps still allow today: the sends left, and when none is, until when (the latest reset of the full caps). */
export interface RemainingCap {
  /** Infinity when no cap applies. */
  left: number;
  /** Defined when `left` is 0. */
  fullUntil: Date | undefined;
}

/** How many sends the scopes still allow today, read in one query. */
export async function remainingCap(db: Knex, scopes: readonly CapScope[]): Promise<RemainingCap> {
  if (scopes.length === 0) return { left: Infinity, fullUntil: undefined };
  const rows = (await db('send_counters')
    .whereIn(
      ['scope', 'day'],
      scopes.map((scope) => [scope.scope, scope.day]),
    )
    .select('scope', 'used')) as Array<{ scope: string; used: number }>;
  const used = new Map(rows.map((row) => [row.scope, row.used]));
  const full = scopes.filter((scope) => scope.limit - (used.get(scope.scope) ?? 0) <= 0);
  const left = Math.max(0, Math.min(...scopes.map((scope) => scope.limit - (used.get(scope.scope) ?? 0))));
  const fullUntil = full.reduce<Date | undefined>((latest, scope) => (latest === undefined || scope.resetsAt > latest ? scope.resetsAt : latest), undefined);
  return { left, fullUntil };
}

/**
 * Takes one unit from every scope, atomically: each counter is incremented only while below
 * its limit, under the row lock, so caps hold across any number of workers. Must run inside
 * the transaction that marks the message SENDING. Returns the first full scope (and takes
 * nothing from the others, as the caller rolls back), or undefined when all were reserved.
 */
export async function reserveCaps(trx: Knex.Transaction, scopes: readonly CapScope[]): Promise<CapScope | undefined> {
  for (const scope of scopes) {
    const result = await trx.raw<{ rowCount: number }>(
      `INSERT INTO send_counters (scope, day, used) VALUES (?, ?, 1)
       ON CONFLICT (scope, day) DO UPDATE SET used = send_counters.used + 1 WHERE send_counters.used < ?`,
      [scope.scope, scope.day, scope.limit],
    );
    if (result.rowCount !== 1) return scope;
  }
  return undefined;
}

/** Gives back the units reserved for a send that did not reach the provider. */
export async function releaseCaps(db: Knex, scopes: ReadonlyArray<{ scope: string; day: string }>): Promise<void> {
  for (const scope of scopes) {
    await db('send_counters').where({ scope: scope.scope, day: scope.day }).andWhere('used', '>', 0).decrement('used', 1);
  }
}
