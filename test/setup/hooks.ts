import { randomBytes } from 'node:crypto';
import * as chai from 'chai';
import chaiAsPromised from 'chai-as-promised';
import sinon from 'sinon';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createDb, type Knex } from '../../src/db/knex.js';
import { ensureDatabase, migrateLatest } from '../../src/db/migrate.js';
import { migrateQueueSchema } from '../../src/jobs/queue-schema.js';
import { redisKeys } from '../../src/redis/keys.js';
import { QUEUE_SCHEMA } from '../../src/jobs/queue-store.js';

chai.use(chaiAsPromised);

const runId = `${process.pid}${randomBytes(3).toString('hex')}`;
const baseDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** `TEST_QUEUE_BACKEND=postgres` runs the same tests with every queue on BullMQ's Postgres backend (`npm run test:postgres`). */
const queueBackend: 'redis' | 'postgres' = process.env.TEST_QUEUE_BACKEND === 'postgres' ? 'postgres' : 'redis';

/** This run's own database and queue prefix: nothing is shared with other runs or the demo. */
export const testRun = {
  id: runId,
  databaseUrl: (() => {
    const url = new URL(baseDatabaseUrl);
    url.pathname = `/drumbeat_test_${runId}`;
    return url.toString();
  })(),
  redisUrl,
  queuePrefix: `dbtest${runId}`,
  /** Where this run's queues live; with `postgres`, in the schema `bullmq` of the run's own database. */
  queueBackend,
};

/** A config for tests: this run's database and prefix, quiet logs, overrides applied. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: testRun.databaseUrl,
    REDIS_URL: testRun.redisUrl,
    QUEUE_PREFIX: testRun.queuePrefix,
    QUEUE_BACKEND: testRun.queueBackend,
    SESSION_SECRET: 'test-session-secret-that-is-long-enough-123',
    SEND_BACKOFF: '50ms',
    ...overrides,
  });
}

/** The environment a spawned drumbeat process needs to use this run's database and prefix. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return {
    ...env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: testRun.databaseUrl,
    REDIS_URL: testRun.redisUrl,
    QUEUE_PREFIX: testRun.queuePrefix,
    QUEUE_BACKEND: testRun.queueBackend,
    SEND_BACKOFF: '50ms',
    ...overrides,
  };
}

let sharedDb: Knex | undefined;

/** The run's migrated database (one pool shared by the tests of this process). */
export function testDb(): Knex {
  if (sharedDb === undefined) throw new Error('the test database is not ready (root hooks did not run)');
  return sharedDb;
}

/** Empties every table except the migration bookkeeping, so each test starts from nothing. */
export async function resetDatabase(): Promise<void> {
  const db = testDb();
  const { rows } = await db.raw<{ rows: Array<{ tablename: string }> }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'knex_migrations%'`,
  );
  await db.raw(`TRUNCATE ${rows.map((row) => `"${row.tablename}"`).join(', ')} RESTART IDENTITY CASCADE`);
}

/** Deletes every Redis key under this run's queue prefix. */
export async function resetRedis(): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    // In one script, as FLUSHDB would be: deleted key by key while workers run, a job added in
    // between could keep its hash and lose its place in the queue (a job no real flush leaves).
    await redis.eval(
      `local keys = redis.call('KEYS', ARGV[1])
       for i = 1, #keys, 1000 do redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys))) end
       return #keys`,
      0,
      redisKeys.everyKey(testRun.queuePrefix),
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * Empties this run's queues: the Redis keys under its prefix, or the tables of its queue schema
 * (BullMQ's Postgres backend ignores the prefix; the run's own database is what isolates it).
 */
export async function resetQueueStore(backend: 'redis' | 'postgres' = testRun.queueBackend): Promise<void> {
  if (backend === 'redis') return resetRedis();
  const db = testDb();
  const { rows } = await db.raw<{ rows: Array<{ tablename: string }> }>(`SELECT tablename FROM pg_tables WHERE schemaname = ? AND tablename <> 'migration'`, [QUEUE_SCHEMA]);
  const truncate = `TRUNCATE ${rows.map((row) => `"${QUEUE_SCHEMA}"."${row.tablename}"`).join(', ')} RESTART IDENTITY CASCADE`;
  // Running workers lock these tables in their own order: a TRUNCATE among them may be chosen as a deadlock's victim.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await db.raw(truncate);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '40P01' || attempt === 5) throw error;
    }
  }
}

async function dropDatabase(): Promise<void> {
  const admin = createDb({ DATABASE_URL: baseDatabaseUrl, DATABASE_POOL_MAX: 1 });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS ?? WITH (FORCE)`, [new URL(testRun.databaseUrl).pathname.slice(1)]);
  } finally {
    await admin.destroy();
  }
}

/**
 * Fails the run when a test left a socket, server or child process open: a leaked worker,
 * queue, pool or HTTP server shows up here once everything the harness owns is closed.
 */
const leakKinds = new Set(['TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap', 'PipeWrap']);

function openResources(): string[] {
  return process.getActiveResourcesInfo().filter((kind) => leakKinds.has(kind));
}

/** What was open before any test ran (the runner's own stdio pipes, for one). */
let resourcesAtStart: string[] = [];

async function assertNothingLeaked(): Promise<void> {
  const deadline = Date.now() + 3000;
  let leaked: string[] = [];
  do {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const remaining = [...resourcesAtStart];
    leaked = openResources().filter((kind) => {
      const index = remaining.indexOf(kind);
      if (index === -1) return true;
      remaining.splice(index, 1);
      return false;
    });
  } while (leaked.length > 0 && Date.now() < deadline);
  if (leaked.length > 0) throw new Error(`tests leaked open resources: ${leaked.join(', ')}`);
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    resourcesAtStart = openResources();
    await ensureDatabase(testRun.databaseUrl);
    sharedDb = createDb({ DATABASE_URL: testRun.databaseUrl, DATABASE_POOL_MAX: 10 });
    await migrateLatest(sharedDb);
    if (testRun.queueBackend === 'postgres') await migrateQueueSchema(testRun.databaseUrl);
  },
  afterEach() {
    sinon.restore();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await sharedDb?.destroy();
    sharedDb = undefined;
    // The Postgres queue schema goes with the database.
    if (testRun.queueBackend === 'redis') await resetRedis();
    await dropDatabase();
    await assertNothingLeaked();
  },
};
