import type { Knex } from 'knex';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log/logger.js';
import { factsCteSql, localDaySql, METRIC_COUNTERS, NONE_LABEL, scopeBindings, sentAtSql, type ScopeEntry } from './metrics-facts.js';
import { writeAttributions } from './attribution-rollup.js';

/** The row of `metrics_rollup_state` that holds the incremental rollup's horizon. */
const STATE_NAME = 'incremental';

/** Serialises rollups across every process: a second run waits, then recomputes from what the first committed. */
const lockSql = `SELECT pg_advisory_xact_lock(hashtext('drumbeat-metrics-rollup'))`;

/**
 * SQL: the row (aliased `alias`) was written by a transaction that had not finished when the
 * horizon (a snapshot's xmin, one parameter) was taken: a change the last run may not have
 * seen. Transaction ids, unlike timestamps, do not depend on any process clock, and a
 * transaction still open when the horizon was taken is after it, however late it commits.
 */
const changedSinceSql = (alias: string) => `age(${alias}.xmin) <= age((?::bigint % 4294967296)::text::xid)`;

const counterList = METRIC_COUNTERS.join(', ');
const sumsOf = (alias: string) => METRIC_COUNTERS.map((counter) => `coalesce(sum(${alias}.${counter}), 0)::int AS ${counter}`).join(', ');
const setCounters = METRIC_COUNTERS.map((counter) => `${counter} = excluded.${counter}`).join(', ');

/** What one rollup did. */
export interface RollupResult {
  /** `incremental`: what changed since the last run; `full`: everything (no earlier run); `campaign`: one campaign, all of it. */
  mode: 'incremental' | 'full' | 'campaign';
  campaigns: number;
  /** Campaign days recomputed (a whole campaign counts each of its days). */
  campaignDays: number;
  factRows: number;
  campaignMetricRows: number;
  channelMetricRows: number;
  variantStatRows: number;
  attributions: number;
  ms: number;
}

/** The campaign days holding rows changed since the horizon: where a changed message or event can count. */
async function changedScope(trx: Knex, horizon: number): Promise<ScopeEntry[]> {
  const { rows } = await trx.raw<{ rows: Array<{ campaign_id: number; day: string }> }>(
    `SELECT DISTINCT m.campaign_id, d.day
       FROM messages m
       JOIN campaigns c ON c.id = m.campaign_id
      CROSS JOIN LATERAL (VALUES (${localDaySql('m.created_at')}), (${localDaySql(sentAtSql('m'))})) AS d(day)
      WHERE ${changedSinceSql('m')}
     UNION
     SELECT DISTINCT e.campaign_id, ${localDaySql('e.occurred_at')}
       FROM contact_events e
       JOIN campaigns c ON c.id = e.campaign_id
      WHERE ${changedSinceSql('e')}`,
    [horizon, horizon],
  );
  return rows.map((row) => ({ campaignId: row.campaign_id, day: row.day }));
}

/** Recomputes `metrics_daily` for the scope from messages and events (its rows there are replaced). */
async function recomputeFacts(trx: Knex, scope: readonly ScopeEntry[]): Promise<number> {
  await trx.raw(
    `WITH scope AS (SELECT * FROM unnest(?::bigint[], ?::date[]) AS s(campaign_id, day))
     DELETE FROM metrics_daily md USING scope s WHERE md.campaign_id = s.campaign_id AND md.day = coalesce(s.day, md.day)`,
    scopeBindings(scope),
  );
  const result = await trx.raw<{ rowCount: number }>(
    `${factsCteSql}
     INSERT INTO metrics_daily (campaign_id, day, channel, step_index, variant, segment, ${counterList})
     SELECT campaign_id, day, channel, step_index, variant, segment, ${counterList} FROM facts
     ON CONFLICT (campaign_id, day, channel, step_index, variant, segment) DO UPDATE SET ${setCounters}`,
    scopeBindings(scope),
  );
  return result.rowCount;
}

/**
 * Sums the scope's facts into `campaign_metrics` (per campaign and day), `channel_metrics` (per
 * campaign, channel and day) and `variant_stats` (per campaign, step, variant and segment, over
 * every day of a touched campaign). Each upsert sets only the rollup's counters (other columns,
 * such as post engagement in `channel_metrics`, are left alone), and rows whose counts went
 * away are set to zero rather than deleted.
 */
async function publishSums(trx: Knex, scope: readonly ScopeEntry[]): Promise<{ campaignMetricRows: number; channelMetricRows: number; variantStatRows: number }> {
  const scopeCte = `WITH scope AS (SELECT * FROM unnest(?::bigint[], ?::date[]) AS s(campaign_id, day))`;
  const inScope = (alias: string) => `EXISTS (SELECT 1 FROM scope s WHERE s.campaign_id = ${alias}.campaign_id AND ${alias}.day = coalesce(s.day, ${alias}.day))`;
  const campaignMetrics = await trx.raw<{ rowCount: number }>(
    `${scopeCte}, keys AS (
       SELECT campaign_id, day FROM metrics_daily md WHERE ${inScope('md')}
       UNION SELECT campaign_id, day FROM campaign_metrics cm WHERE ${inScope('cm')}
     )
     INSERT INTO campaign_metrics (campaign_id, day, ${counterList})
     SELECT k.campaign_id, k.day, ${sumsOf('md')}
       FROM keys k LEFT JOIN metrics_daily md ON md.campaign_id = k.campaign_id AND md.day = k.day
      GROUP BY k.campaign_id, k.day
     ON CONFLICT (campaign_id, day) DO UPDATE SET ${setCounters}`,
    scopeBindings(scope),
  );
  const channelMetrics = await trx.raw<{ rowCount: number }>(
    `${scopeCte}, keys AS (
       SELECT campaign_id, channel, day FROM metrics_daily md WHERE ${inScope('md')} AND md.channel <> '${NONE_LABEL}'
       UNION SELECT campaign_id, channel, day FROM channel_metrics cm WHERE ${inScope('cm')}
     )
     INSERT INTO channel_metrics (campaign_id, channel, day, ${counterList})
     SELECT k.campaign_id, k.channel, k.day, ${sumsOf('md')}
       FROM keys k LEFT JOIN metrics_daily md ON md.campaign_id = k.campaign_id AND md.channel = k.channel AND md.day = k.day
      GROUP BY k.campaign_id, k.channel, k.day
     ON CONFLICT (campaign_id, channel, day) DO UPDATE SET ${setCounters}`,
    scopeBindings(scope),
  );
  const variantStats = await trx.raw<{ rowCount: number }>(
    `${scopeCte}, campaigns_touched AS (SELECT DISTINCT campaign_id FROM scope), keys AS (
       SELECT md.campaign_id, md.step_index, md.variant, md.segment FROM metrics_daily md JOIN campaigns_touched t USING (campaign_id) WHERE md.step_index >= 0
       UNION SELECT vs.campaign_id, vs.step_index, vs.variant, vs.segment FROM variant_stats vs JOIN campaigns_touched t USING (campaign_id)
     )
     INSERT INTO variant_stats (campaign_id, step_index, variant, segment, angle, ${counterList})
     SELECT k.campaign_id, k.step_index, k.variant, k.segment,
            (SELECT v->>'angle' FROM campaign_steps cs CROSS JOIN LATERAL jsonb_array_elements(coalesce(cs.variants, '[]'::jsonb)) v
              WHERE cs.campaign_id = k.campaign_id AND cs.step_index = k.step_index AND v->>'name' = k.variant LIMIT 1),
            ${sumsOf('md')}
       FROM keys k
       LEFT JOIN metrics_daily md ON md.campaign_id = k.campaign_id AND md.step_index = k.step_index AND md.variant = k.variant AND md.segment = k.segment
      GROUP BY k.campaign_id, k.step_index, k.variant, k.segment
     ON CONFLICT (campaign_id, step_index, variant, segment) DO UPDATE SET angle = excluded.angle, ${setCounters}`,
    scopeBindings(scope),
  );
  return { campaignMetricRows: campaignMetrics.rowCount, channelMetricRows: channelMetrics.rowCount, variantStatRows: variantStats.rowCount };
}

/**
 * The metrics rollup: fills `metrics_daily`, `campaign_metrics`, `channel_metrics`,
 * `variant_stats` and `attributions` from messages and applied events (see `metrics-facts.ts`
 * for what counts where). Every run recomputes absolute counts from the source for the
 * campaign days it touches, never adds increments, and runs under an advisory lock in one
 * transaction: two overlapping runs take turns and leave the same rows.
 *
 * Incremental: a run recomputes only the campaign days where a message or event changed since
 * the last run's horizon (the oldest transaction still running when it began), so its work
 * follows what changed, and Postgres aggregates it (nothing is held in this process but the list
 * of days). The first run, with no horizon yet, does everything.
 */
export function metricsRollup({ db, clock, log }: { db: Knex; clock: Clock; log: Logger }) {
  async function recompute(trx: Knex, scope: readonly ScopeEntry[]) {
    const factRows = await recomputeFacts(trx, scope);
    const sums = await publishSums(trx, scope);
    return { factRows, ...sums };
  }

  return {
    /**
     * Runs one rollup: incremental (everything changed since the last one), or, with a campaign
     * id, all of that campaign (the incremental horizon is left as it is).
     */
    async run(options: { campaignId?: number } = {}): Promise<RollupResult> {
      const started = Date.now();
      const result = await db.transaction(async (trx) => {
        await trx.raw(lockSql);
        // The sorts and hashes of a large campaign stay in memory up to this, per operation, then spill to disk.
        await trx.raw(`SET LOCAL work_mem = '64MB'`);
        if (options.campaignId !== undefined) {
          const scope = [{ campaignId: options.campaignId, day: null }];
          const counts = await recompute(trx, scope);
          const attributions = await writeAttributions(trx, { campaignIds: [options.campaignId] });
          return { mode: 'campaign' as const, campaigns: 1, campaignDays: await countDays(trx, [options.campaignId]), ...counts, attributions };
        }
        const { rows } = await trx.raw<{ rows: Array<{ horizon: number }> }>(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon`);
        const horizon = rows[0]?.horizon;
        if (horizon === undefined) throw new Error('Postgres gave no snapshot horizon');
        const state = (await trx('metrics_rollup_state').where({ name: STATE_NAME }).first('horizon')) as { horizon: number } | undefined;
        const mode: RollupResult['mode'] = state === undefined ? 'full' : 'incremental';
        const scope: ScopeEntry[] =
          state === undefined
            ? ((await trx('campaigns').orderBy('id').pluck('id')) as number[]).map((campaignId) => ({ campaignId, day: null }))
            : await changedScope(trx, state.horizon);
        const counts = scope.length === 0 ? { factRows: 0, campaignMetricRows: 0, channelMetricRows: 0, variantStatRows: 0 } : await recompute(trx, scope);
        const campaignDays = state === undefined ? await countDays(trx, scope.map((entry) => entry.campaignId)) : scope.length;
        const attributions = await writeAttributions(trx, state === undefined ? {} : { changedSince: state.horizon });
        await trx.raw(
          `INSERT INTO metrics_rollup_state (name, horizon, rolled_up_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET horizon = greatest(metrics_rollup_state.horizon, excluded.horizon), rolled_up_at = excluded.rolled_up_at`,
          [STATE_NAME, horizon, clock.now()],
        );
        return { mode, campaigns: new Set(scope.map((entry) => entry.campaignId)).size, campaignDays, ...counts, attributions };
      });
      const done = { ...result, ms: Date.now() - started };
      log.info(done, 'metrics rolled up');
      return done;
    },
  };
}

/** How many days the campaigns have facts on, after a whole-campaign recompute. */
async function countDays(trx: Knex, campaignIds: readonly number[]): Promise<number> {
  if (campaignIds.length === 0) return 0;
  const { rows } = await trx.raw<{ rows: Array<{ days: number }> }>(
    `SELECT count(DISTINCT (campaign_id, day))::int AS days FROM metrics_daily WHERE campaign_id = ANY(?::bigint[])`,
    [[...campaignIds]],
  );
  return rows[0]?.days ?? 0;
}

export type MetricsRollup = ReturnType<typeof metricsRollup>;

/** Describes a rollup in one line, for the CLI and logs. */
export function describeRollup(result: RollupResult): string {
  const what =
    result.mode === 'campaign'
      ? `campaign recomputed whole (${result.campaignDays} day(s))`
      : result.mode === 'full'
        ? `first run: everything (${result.campaigns} campaign(s), ${result.campaignDays} campaign day(s))`
        : `incremental: ${result.campaignDays} campaign day(s) of ${result.campaigns} campaign(s) changed since the last run`;
  return `metrics rollup, ${what}: ${result.factRows} fact row(s); campaign_metrics ${result.campaignMetricRows}, channel_metrics ${result.channelMetricRows}, variant_stats ${result.variantStatRows} row(s) written; ${result.attributions} attribution(s) written; ${result.ms} ms`;
}
