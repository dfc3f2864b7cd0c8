import { assertSchemaCompatibility } from 'bullmq';
import pg from 'pg';
import type { Config } from '../config/config.js';
import { redactUrl } from '../config/config.js';
import { createDb, type Knex } from '../db/knex.js';
import { pendingMigrations } from '../db/migrate.js';
import { describeConnectedTopology, notAClusterReason, openRedis, readEvictionPolicy, topologyMismatch } from '../redis/connection.js';
import { describeTopologySettings, redisTopology, topologySetting } from '../redis/topology.js';
import type { Channel } from '../core/channels.js';
import { smtpAccount } from '../channels/email/smtp-adapter.js';
import { verifySmtpLogin } from '../channels/email/smtp-login.js';
import { parsedTemplate } from '../templates/render.js';
import { QUEUE_SCHEMA } from '../jobs/queue-store.js';

export interface PreflightCheck {
  name: string;
  ok: boolean;
  /** One sentence: what is fine, or what to fix. */
  message: string;
  /** Something to look at that does not stop drumbeat working (printed as WARN). */
  warning?: boolean;
}

export interface PreflightReport {
  ok: boolean;
  checks: PreflightCheck[];
}

export interface PreflightOptions {
  /**
   * Also log in to the SMTP relay (connect, EHLO, AUTH, QUIT; no mail) when a LIVE campaign
   * sends email. Too slow and too chatty for every readiness probe: `drumbeat preflight` only.
   * @defaultValue false
   */
  smtpLogin?: boolean;
  /**
   * Also re-read every stored template that can still render (active templates' current
   * versions, the steps of campaigns not finished) and warn about any that no longer passes
   * the template language: its messages would be SKIPPED. `drumbeat preflight` only.
   * @defaultValue false
   */
  storedTemplates?: boolean;
}

/** The settings each channel needs before a LIVE campaign may use it. */
const channelSettings: Record<Channel, Array<keyof Config>> = {
  email: ['SMTP_URL', 'PUBLIC_URL'],
  linkedin: ['LINKEDIN_ACCESS_TOKEN'],
  x: ['X_BEARER_TOKEN'],
  instagram: ['INSTAGRAM_ACCESS_TOKEN'],
};

async function checkRedis(config: Config): Promise<PreflightCheck[]> {
  const topology = redisTopology(config);
  const where = describeTopologySettings(topology);
  const redis = openRedis(topology, 'probe');
  // The connection's own error says why (a refused certificate, a wrong password) where the
  // failed command only says "Connection is closed.".
  let cause: Error | undefined;
  redis.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    await redis.connect();
    await redis.ping();
    const mismatch = await topologyMismatch(redis, topology);
    if (mismatch !== undefined) return [{ name: 'redis', ok: false, message: mismatch }];
    const seen = await describeConnectedTopology(redis, topology);
    const policy = await readEvictionPolicy(redis);
    return [
      { name: 'redis', ok: true, message: `${where} answers: ${seen}.` },
      policy === 'noeviction'
        ? { name: 'redis-eviction', ok: true, message: `Redis maxmemory-policy is noeviction${topology.kind === 'cluster' ? ' on every primary' : ''}.` }
        : {
            name: 'redis-eviction',
            ok: false,
            message: `Redis maxmemory-policy is "${policy}"${topology.kind === 'cluster' ? ' on a primary' : ''}; set it to noeviction (CONFIG SET maxmemory-policy noeviction) so queued jobs are never evicted.`,
          },
    ];
  } catch (error) {
    const notACluster = topology.kind === 'cluster' ? await notAClusterReason(topology) : undefined;
    if (notACluster !== undefined) return [{ name: 'redis', ok: false, message: notACluster }];
    return [
      {
        name: 'redis',
        ok: false,
        message: `${where} is not reachable (${(cause ?? (error as Error)).message}); start Redis or fix ${topologySetting(topology)}.`,
      },
    ];
  } finally {
    redis.disconnect();
  }
}

/**
 * The Postgres queue store (`QUEUE_BACKEND=postgres`): BullMQ's schema migrated for this BullMQ,
 * and room under `max_connections` for a worker process's connections (its Knex pool, its queue
 * pool and the one LISTEN connection its workers share), which warns rather than fails: it depends on how
 * many processes run.
 */
async function checkPostgresQueueStore(config: Config): Promise<PreflightCheck[]> {
  const client = new pg.Client({ connectionString: config.DATABASE_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => {
    // Reported through the failed query below.
  });
  try {
    await client.connect();
    const version = await assertSchemaCompatibility(client, QUEUE_SCHEMA);
    const { rows } = await client.query<{ max: number; used: number }>(
      `SELECT current_setting('max_connections')::int AS max, (SELECT count(*) FROM pg_stat_activity)::int AS used`,
    );
    const { max, used } = rows[0] ?? { max: 0, used: 0 };
    const worker = config.DATABASE_POOL_MAX + config.QUEUE_POOL_MAX + 1;
    const api = config.DATABASE_POOL_MAX + config.QUEUE_POOL_MAX;
    const budget = `max_connections is ${max} with ${used} in use; a worker process opens up to ${worker} (DATABASE_POOL_MAX + QUEUE_POOL_MAX + 1 LISTEN), an api process up to ${api}`;
    return [
      { name: 'queue-store', ok: true, message: `Queues run on Postgres: BullMQ schema "${QUEUE_SCHEMA}" at version ${version}; no Redis is used.` },
      max - used >= worker
        ? { name: 'queue-connections', ok: true, message: `${budget}.` }
        : { name: 'queue-connections', ok: true, warning: true, message: `${budget}: another worker process would not fit; raise max_connections or lower DATABASE_POOL_MAX and QUEUE_POOL_MAX.` },
    ];
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return [{ name: 'queue-store', ok: false, message: `The Postgres queue store is not ready (${reason}); run "drumbeat migrate".` }];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Logs in to the SMTP relay; a refusal is reported as a send would classify it. */
async function checkSmtpLogin(smtpUrl: string, timeoutMs: number): Promise<PreflightCheck> {
  try {
    await verifySmtpLogin(smtpUrl, timeoutMs);
    return { name: 'smtp-login', ok: true, message: `The SMTP relay accepts drumbeat's login as ${smtpAccount(smtpUrl)}.` };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { name: 'smtp-login', ok: false, message: `${reason}; fix SMTP_URL (or the account) before LIVE email campaigns run.` };
  }
}

async function checkPostgres(config: Config, db: Knex, options: PreflightOptions): Promise<PreflightCheck[]> {
  try {
    await db.raw('SELECT 1');
  } catch (error) {
    return [
      {
        name: 'postgres',
        ok: false,
        message: `Postgres at ${redactUrl(config.DATABASE_URL)} is not reachable (${(error as Error).message}); start Postgres or fix DATABASE_URL.`,
      },
    ];
  }
  const checks: PreflightCheck[] = [{ name: 'postgres', ok: true, message: `Postgres at ${redactUrl(config.DATABASE_URL)} answers.` }];
  const hasMigrationTable = await db.schema.hasTable('knex_migrations');
  const pending = hasMigrationTable ? await pendingMigrations(db) : ['(all)'];
  checks.push(
    pending.length === 0
      ? { name: 'migrations', ok: true, message: 'The database schema is current.' }
      : { name: 'migrations', ok: false, message: `${pending.length === 1 && pending[0] === '(all)' ? 'The database has no schema' : `${pending.length} migration(s) are pending`}; run "drumbeat migrate".` },
  );
  if (pending.length > 0) return checks;
  const liveChannels = (await db('campaign_steps as s')
    .join('campaigns as c', 'c.id', 's.campaign_id')
    .where('c.mode', 'LIVE')
    .whereIn('c.status', ['DRAFT', 'ACTIVE', 'PAUSED'])
    .distinct('s.channel')) as Array<{ channel: Channel }>;
  for (const { channel } of liveChannels) {
    const missing = channelSettings[channel].filter((key) => config[key] === undefined);
    checks.push(
      missing.length === 0
        ? { name: `channel-${channel}`, ok: true, message: `LIVE ${channel} sends are configured.` }
        : { name: `channel-${channel}`, ok: false, message: `A LIVE campaign sends ${channel} but ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set; set ${missing.length === 1 ? 'it' : 'them'} or switch the campaign to PROOF.` },
    );
  }
  if (options.storedTemplates === true) checks.push(await checkStoredTemplates(db));
  const sendsEmail = liveChannels.some(({ channel }) => channel === 'email');
  if (options.smtpLogin === true && sendsEmail && config.SMTP_URL !== undefined) checks.push(await checkSmtpLogin(config.SMTP_URL, config.SMTP_TIMEOUT));
  return checks;
}

/** How many refused templates the warning names before it says "and N more". */
const templatesNamed = 5;

/**
 * Stored template text that no longer passes the template language (a row changed behind
 * drumbeat's back, or saved by an older version): its messages would be SKIPPED at render.
 */
async function checkStoredTemplates(db: Knex): Promise<PreflightCheck> {
  const versions = (await db('templates as t')
    .join('template_versions as v', function currentVersion() {
      this.on('v.template_id', '=', 't.id').andOn('v.version', '=', 't.current_version');
    })
    .where('t.active', true)
    .select('t.name', 'v.version', 'v.subject', 'v.body')) as Array<{ name: string; version: number; subject: string | null; body: string }>;
  const steps = (await db('campaign_steps as s')
    .join('campaigns as c', 'c.id', 's.campaign_id')
    .whereIn('c.status', ['DRAFT', 'ACTIVE', 'PAUSED'])
    .select('s.campaign_id', 's.step_index', 's.subject', 's.body', 's.variants')) as Array<{
    campaign_id: number;
    step_index: number;
    subject: string | null;
    body: string | null;
    variants: Array<{ name: string; subject: string | null; body: string | null }> | null;
  }>;
  const texts: Array<{ where: string; text: string | null }> = [
    ...versions.flatMap((row) => [
      { where: `template "${row.name}" v${row.version} subject`, text: row.subject },
      { where: `template "${row.name}" v${row.version} body`, text: row.body },
    ]),
    ...steps.flatMap((row) => [
      { where: `campaign ${row.campaign_id} step ${row.step_index + 1} subject`, text: row.subject },
      { where: `campaign ${row.campaign_id} step ${row.step_index + 1} body`, text: row.body },
      ...(row.variants ?? []).flatMap((variant) => [
        { where: `campaign ${row.campaign_id} step ${row.step_index + 1} variant ${variant.name} subject`, text: variant.subject },
        { where: `campaign ${row.campaign_id} step ${row.step_index + 1} variant ${variant.name} body`, text: variant.body },
      ]),
    ]),
  ];
  const refused: string[] = [];
  for (const { where, text } of texts) {
    if (text === null) continue;
    const parsed = parsedTemplate(text);
    if (!parsed.ok) refused.push(`${where}${parsed.issues[0]?.line === undefined ? '' : ` line ${parsed.issues[0].line}`}: ${parsed.issues[0]?.message ?? 'refused'}`);
  }
  if (refused.length === 0) return { name: 'templates', ok: true, message: `Every stored template that can render passes the template language (${texts.filter((entry) => entry.text !== null).length} checked).` };
  const more = refused.length > templatesNamed ? ` and ${refused.length - templatesNamed} more` : '';
  return {
    name: 'templates',
    ok: true,
    warning: true,
    message: `${refused.length} stored template text(s) no longer pass the template language and would be SKIPPED: ${refused.slice(0, templatesNamed).join('; ')}${more}. Save a corrected version.`,
  };
}

/**
 * Checks that this process can do its work: the queue store ready (Redis reachable with a safe
 * eviction policy, or BullMQ's Postgres schema migrated with room for the connections),
 * Postgres reachable with a current schema, every channel used by a LIVE campaign configured,
 * and (with `smtpLogin`) the SMTP relay accepting our credentials. Used by `drumbeat preflight`
 * and `/readyz`.
 */
export async function runPreflight(config: Config, db?: Knex, options: PreflightOptions = {}): Promise<PreflightReport> {
  const ownDb = db === undefined;
  const database = db ?? createDb({ ...config, DATABASE_POOL_MAX: 1 });
  try {
    const queueStore = config.QUEUE_BACKEND === 'postgres' ? checkPostgresQueueStore(config) : checkRedis(config);
    const checks = (await Promise.all([queueStore, checkPostgres(config, database, options)])).flat();
    return { ok: checks.every((check) => check.ok), checks };
  } finally {
    if (ownDb) await database.destroy();
  }
}
