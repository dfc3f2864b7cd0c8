import { z } from 'zod';
import { parseDuration } from './duration.js';
import { ConfigError } from './config-error.js';

export { ConfigError };

/**
 * Every environment variable drumbeat reads, parsed once. Nothing else in the code base reads
 * `process.env`; the README's configuration table mirrors this schema.
 */
const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const durationMs = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 500ms, 30s, 5m, 2h, 3d)` });
        return z.NEVER;
      }
      return ms;
    });

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalPositiveInt = z.coerce.number().int().positive().optional();

const urlWithProtocols = (protocols: string[]) =>
  z.url({ protocol: new RegExp(`^(${protocols.join('|')})$`) });

/** A comma-separated list of `host:port` addresses (Redis Cluster nodes, Sentinels). */
const hostPortList = z
  .string()
  .transform((value, ctx) => {
    const addresses = value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    const parsed = addresses.map((address) => /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address));
    if (addresses.length === 0 || parsed.some((match) => match === null || Number(match[2]) > 65535)) {
      ctx.addIssue({ code: 'custom', message: 'a comma-separated list of host:port addresses, such as 10.0.0.1:7000,10.0.0.2:7000' });
      return z.NEVER;
    }
    return parsed.map((match) => ({ host: (match?.[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(match?.[2]) }));
  })
  .optional();

const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  REDIS_URL: urlWithProtocols(['redis', 'rediss']).default('redis://127.0.0.1:6379'),
  /** A Redis Cluster's nodes (some or all): drumbeat discovers the rest. Replaces REDIS_URL. */
  REDIS_CLUSTER_NODES: hostPortList,
  /** The Sentinels watching a primary/replica set; drumbeat follows their failovers. Replaces REDIS_URL. */
  REDIS_SENTINELS: hostPortList,
  /** The master name the Sentinels monitor (their `sentinel monitor <name> …`). */
  REDIS_SENTINEL_NAME: optionalString,
  /** The password of the Sentinels themselves, when they require one (their `requirepass`). */
  REDIS_SENTINEL_PASSWORD: optionalString,
  /** The ACL user and password of every Redis server (overriding any in REDIS_URL). */
  REDIS_USERNAME: optionalString,
  REDIS_PASSWORD: optionalString,
  /** TLS to every Redis server (and Sentinel); `rediss://` in REDIS_URL means the same. */
  REDIS_TLS: booleanFlag(false),
  DATABASE_URL: urlWithProtocols(['postgres', 'postgresql']).default('postgres://postgres@127.0.0.1:5432/drumbeat'),
  DATABASE_POOL_MAX: positiveInt(10),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}-]+$/, 'letters, digits, _ - { } only (a {hash-tag} keeps Redis Cluster working)')
    .default('drumbeat'),
  /**
   * Where the queues live: `redis` (BullMQ on Redis), or `postgres` (BullMQ's Postgres backend in
   * schema `bullmq` of DATABASE_URL; no Redis is used at all).
   */
  QUEUE_BACKEND: z.enum(['redis', 'postgres']).default('redis'),
  /** Postgres queue store: query connections of each process's queue pool (each worker's LISTEN connection comes on top). */
  QUEUE_POOL_MAX: positiveInt(10),

  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: urlWithProtocols(['http', 'https']).default('http://localhost:3000'),
  BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'a size such as 100kb or 1mb').default('1mb'),
  SESSION_SECRET: optionalString.pipe(z.string().min(32, 'at least 32 characters').optional()),
  SESSION_TTL: durationMs('12h'),
  TRUST_PROXY: booleanFlag(false),

  WEBHOOK_SECRET: optionalString,
  SENDGRID_WEBHOOK_PUBLIC_KEY: optionalString,
  MAILGUN_SIGNING_KEY: optionalString,
  /** How far a webhook's signed timestamp may be from now before it is refused as stale. */
  WEBHOOK_TOLERANCE: durationMs('5m'),
  /** The largest webhook body accepted (raw bytes, before any parsing); larger answers 413. */
  WEBHOOK_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'a size such as 100kb or 1mb').default('1mb'),
  /** How many inbox events the `events` queue applies at once. */
  EVENTS_CONCURRENCY: positiveInt(20),
  /** Soft bounces in a row (no delivery between them) after which an address is suppressed. */
  SOFT_BOUNCE_LIMIT: positiveInt(3),
  /** Form submissions accepted per client IP per minute on `POST /forms/:campaignSlug`. */
  FORM_RATE_PER_MINUTE: positiveInt(10),
  /** Where a browser form submission is redirected afterwards; unset answers JSON. */
  FORM_THANK_YOU_URL: optionalString.pipe(urlWithProtocols(['http', 'https']).optional()),
  /** The largest CSV accepted by `POST /api/campaigns/:id/imports`. */
  IMPORT_MAX_BYTES: z.string().regex(/^\d+(b|kb|mb|gb)$/i, 'a size such as 50mb').default('200mb'),
  /** Where uploaded CSVs wait for their import job (must be shared by api and worker hosts). */
  IMPORT_UPLOAD_DIR: optionalString,

  SMTP_URL: optionalString.pipe(urlWithProtocols(['smtp', 'smtps']).optional()),
  POSTAL_ADDRESS: optionalString,
  /** Connection, greeting and socket timeout of one SMTP conversation; keep it below SEND_TIMEOUT. */
  SMTP_TIMEOUT: durationMs('20s'),
  /** Timeout of one social-platform HTTP call; keep it below SEND_TIMEOUT so its own classification wins. */
  HTTP_TIMEOUT: durationMs('20s'),
  /**
   * Signs unsubscribe tokens (HMAC of the message key) and salts Message-IDs; falls back to
   * SESSION_SECRET, then to a secret drumbeat stores in Postgres on first use. Links already sent
   * survive a change: tokens are checked against their stored SHA-256.
   */
  UNSUBSCRIBE_SECRET: optionalString.pipe(z.string().min(32, 'at least 32 characters').optional()),
  /** The mailto: target of List-Unsubscribe; defaults to the campaign's Reply-To, else its From. */
  UNSUBSCRIBE_MAILTO: optionalString.pipe(z.email().optional()),
  /** At most this many emails per minute to one recipient domain, across all workers (unset: no limit). */
  EMAIL_DOMAIN_PER_MINUTE: optionalPositiveInt,
  /** Circuit breakers: open when this % of calls fail in the window, after at least BREAKER_VOLUME calls. */
  BREAKER_ERROR_PERCENT: z.coerce.number().int().min(1).max(100).default(50),
  BREAKER_VOLUME: positiveInt(5),
  BREAKER_WINDOW: durationMs('60s'),
  /** How long an open breaker waits before letting one trial call through (half-open). */
  BREAKER_RESET: durationMs('30s'),

  LLM_BASE_URL: optionalString.pipe(urlWithProtocols(['http', 'https']).optional()),
  LLM_API_KEY: optionalString,
  LLM_MODEL: z.string().default('gpt-4o-mini'),
  LLM_TIMEOUT: durationMs('20s'),
  /** Requests and tokens (prompt + completion) per minute across all workers. */
  LLM_RPM: positiveInt(60),
  LLM_TPM: positiveInt(40_000),
  LLM_MAX_TOKENS: positiveInt(120),
  COMPOSE_CONCURRENCY: positiveInt(4),

  X_API_BASE_URL: urlWithProtocols(['http', 'https']).default('https://api.x.com'),
  X_BEARER_TOKEN: optionalString,
  LINKEDIN_API_BASE_URL: urlWithProtocols(['http', 'https']).default('https://api.linkedin.com'),
  LINKEDIN_ACCESS_TOKEN: optionalString,
  /** The author of LinkedIn posts (urn:li:organization:… or urn:li:person:…). */
  LINKEDIN_AUTHOR_URN: optionalString,
  LINKEDIN_API_VERSION: z.string().regex(/^\d{6}$/, 'a version such as 202501').default('202501'),
  INSTAGRAM_API_BASE_URL: urlWithProtocols(['http', 'https']).default('https://graph.instagram.com'),
  INSTAGRAM_ACCESS_TOKEN: optionalString,
  /** The Instagram professional account id that publishes and messages ('me' = the token's own account). */
  INSTAGRAM_ACCOUNT_ID: z.string().regex(/^(me|\d+)$/, 'me or a numeric account id').default('me'),
  INSTAGRAM_API_VERSION: z.string().regex(/^v\d+\.\d+$/, 'a version such as v21.0').default('v21.0'),

  SEND_CONCURRENCY: positiveInt(400),
  /** LIVE adapter calls in flight per channel and worker process (each LIVE email holds one SMTP connection). */
  LIVE_SEND_SLOTS: positiveInt(10),
  SEND_ATTEMPTS: positiveInt(5),
  SEND_BACKOFF: durationMs('5s'),
  /** A LIVE adapter or publisher call's timeout, enforced once, by its guard (`channels/resilience/guarded-adapter.ts`). */
  SEND_TIMEOUT: durationMs('30s'),
  GLOBAL_DAILY_CAP: optionalPositiveInt,
  EMAIL_DAILY_CAP: optionalPositiveInt,
  LINKEDIN_DAILY_CAP: optionalPositiveInt,
  X_DAILY_CAP: optionalPositiveInt,
  INSTAGRAM_DAILY_CAP: optionalPositiveInt,
  EMAIL_RATE_PER_SECOND: optionalPositiveInt,
  LINKEDIN_RATE_PER_SECOND: optionalPositiveInt,
  X_RATE_PER_SECOND: optionalPositiveInt,
  INSTAGRAM_RATE_PER_SECOND: optionalPositiveInt,
  TICK_BATCH_SIZE: positiveInt(1000),
  RECONCILE_EVERY: durationMs('30s'),
  /** How often the metrics rollup runs (incremental: only the campaign days that changed). */
  METRICS_EVERY: durationMs('5m'),
  SENDING_STALE_AFTER: durationMs('5m'),
  SHUTDOWN_TIMEOUT: durationMs('80s'),
  JOB_LOCK_DURATION: durationMs('30s'),

  /** Bearer token of `GET /metrics` (api) and of the worker metrics endpoint; unset, both are open. */
  METRICS_TOKEN: optionalString.pipe(z.string().min(16, 'at least 16 characters').optional()),
  /** Port of each worker process's own metrics (`/metrics`, on HOST); unset: none; 0: any free port. Under PM2 the instance number is added. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Set by PM2 for each instance of an app (0, 1, …): offsets WORKER_METRICS_PORT so instances do not collide. */
  NODE_APP_INSTANCE: z.coerce.number().int().min(0).max(1000).optional(),
  /** How often the engagement of published posts is read from the platforms (`post-metrics`). */
  POST_METRICS_EVERY: durationMs('1d'),
});

/** The parsed configuration; every field has its final type and default. */
export type Config = z.infer<typeof configSchema>;


/**
 * Parses the environment into a {@link Config}. Empty strings count as unset.
 * @throws ConfigError listing every invalid variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.');
        // Never echo the offending value: it may be a secret.
        return `${name}: ${issue.message}`;
      }),
    );
  }
  const problems = redisTopologyProblems(parsed.data, present.REDIS_URL !== undefined);
  if (parsed.data.NODE_ENV === 'production' && parsed.data.SESSION_SECRET === undefined) {
    problems.push('SESSION_SECRET: required when NODE_ENV=production');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}

/**
 * Whether a key prefix carries a Redis Cluster hash tag: Redis hashes only the text between the
 * first `{` and the next `}` when that text is not empty, so every key under the prefix lands
 * in one slot.
 */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  const close = open === -1 ? -1 : prefix.indexOf('}', open + 1);
  return close > open + 1;
}

/**
 * The Redis topology settings that contradict each other, one sentence each: exactly one of
 * REDIS_URL (when given), REDIS_CLUSTER_NODES and REDIS_SENTINELS; a Sentinel set needs its
 * master name; a cluster needs a hash-tagged prefix (BullMQ's scripts touch many keys of a queue
 * at once, and a cluster runs a script only when all its keys share a slot).
 */
function redisTopologyProblems(config: Config, redisUrlGiven: boolean): string[] {
  const given = [
    ...(redisUrlGiven ? ['REDIS_URL'] : []),
    ...(config.REDIS_CLUSTER_NODES === undefined ? [] : ['REDIS_CLUSTER_NODES']),
    ...(config.REDIS_SENTINELS === undefined ? [] : ['REDIS_SENTINELS']),
  ];
  const problems: string[] = [];
  if (given.length > 1) problems.push(`${given.join(', ')}: set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS.`);
  if (config.REDIS_SENTINELS !== undefined && config.REDIS_SENTINEL_NAME === undefined) {
    problems.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master name the Sentinels monitor).');
  }
  if (config.REDIS_SENTINELS === undefined && (config.REDIS_SENTINEL_NAME !== undefined || config.REDIS_SENTINEL_PASSWORD !== undefined)) {
    problems.push(`${config.REDIS_SENTINEL_NAME === undefined ? 'REDIS_SENTINEL_PASSWORD' : 'REDIS_SENTINEL_NAME'}: only used with REDIS_SENTINELS, which is not set.`);
  }
  if (config.REDIS_CLUSTER_NODES !== undefined && !hasHashTag(config.QUEUE_PREFIX)) {
    problems.push(`QUEUE_PREFIX: a Redis Cluster needs a {hash-tag} in the prefix so each queue's keys share one slot; use e.g. {${config.QUEUE_PREFIX.replace(/[{}]/g, '') || 'drumbeat'}}.`);
  }
  return problems;
}

/** The secret values held in a config, for log redaction (passwords inside URLs included). */
export function configSecrets(config: Config): string[] {
  const secrets = [
    config.SESSION_SECRET,
    config.WEBHOOK_SECRET,
    config.MAILGUN_SIGNING_KEY,
    config.LLM_API_KEY,
    config.UNSUBSCRIBE_SECRET,
    config.X_BEARER_TOKEN,
    config.LINKEDIN_ACCESS_TOKEN,
    config.INSTAGRAM_ACCESS_TOKEN,
    config.METRICS_TOKEN,
    passwordInUrl(config.DATABASE_URL),
    passwordInUrl(config.REDIS_URL),
    config.REDIS_PASSWORD,
    config.REDIS_SENTINEL_PASSWORD,
    config.SMTP_URL === undefined ? undefined : passwordInUrl(config.SMTP_URL),
  ];
  return secrets.filter((secret): secret is string => secret !== undefined && secret.length >= 4);
}

function passwordInUrl(url: string): string | undefined {
  const password = new URL(url).password;
  return password === '' ? undefined : decodeURIComponent(password);
}

/** A URL with its password replaced, safe to print. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
