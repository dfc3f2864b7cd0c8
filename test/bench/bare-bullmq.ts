/**
 * Phase B of `npm run bench`, in a process of its own so that phase P starts from a fresh heap:
 * BullMQ alone moving N no-op jobs, added with addBulk in chunks of 1,000 and processed by one
 * worker at the given concurrency, removeOnComplete. Prints its CPU line to stderr and
 * `{"jobsPerSecond":…}` to stdout, and deletes its keys. Given a database URL, it runs on
 * BullMQ's Postgres backend instead (schema `bullmq` of that database, one pg.Pool of
 * QUEUE_POOL_MAX connections plus the worker's LISTEN, as drumbeat sizes its own).
 *
 *   node --import tsx test/bench/bare-bullmq.ts <jobs> <concurrency> [queue prefix] [postgres database url]
 */
import { Queue, Worker, createPostgresBackend } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.js';
import { QUEUE_SCHEMA, type AppQueue, type AppWorker, type PostgresQueue } from '../../src/jobs/queue-store.js';
import { cpuSnapshot, describeCpu } from './cpu-usage.js';
import { deletePrefix } from './redis-keys.js';

const jobs = Number(process.argv[2]);
const concurrency = Number(process.argv[3]);
const prefix = process.argv[4] ?? `benchbare${process.pid}`;
const postgresUrl = process.argv[5];
if (!Number.isInteger(jobs) || jobs <= 0 || !Number.isInteger(concurrency) || concurrency <= 0) {
  throw new Error('usage: bare-bullmq.ts <jobs> <concurrency> [queue prefix]');
}

let done = 0;
let finish: () => void = () => undefined;
const finished = new Promise<void>((resolve) => (finish = resolve));
const noop = () => {
  done += 1;
  if (done === jobs) finish();
  return Promise.resolve();
};
const config = loadConfig();
const redis = postgresUrl === undefined ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: null }) : undefined;
const pool =
  postgresUrl === undefined ? undefined : new pg.Pool({ connectionString: postgresUrl, max: config.QUEUE_POOL_MAX + 1, options: `-c search_path=${QUEUE_SCHEMA}` });
let queue: AppQueue;
let worker: AppWorker;
if (redis !== undefined) {
  const onRedis: Queue = new Queue('bare', { connection: redis, prefix });
  const redisWorker: Worker = new Worker('bare', noop, { connection: redis, prefix, concurrency });
  [queue, worker] = [onRedis, redisWorker];
} else if (pool !== undefined) {
  const onPostgres: PostgresQueue = new Queue('bare', { connection: pool }, createPostgresBackend);
  const postgresWorker: AppWorker = new Worker('bare', noop, { connection: pool, concurrency }, createPostgresBackend);
  [queue, worker] = [onPostgres, postgresWorker];
} else {
  throw new Error('no store');
}
await worker.waitUntilReady();
const cpuBefore = cpuSnapshot();
const started = performance.now();
for (let start = 0; start < jobs; start += 1000) {
  const chunk = Array.from({ length: Math.min(1000, jobs - start) }, (_, index) => ({
    name: 'noop',
    data: { messageId: start + index + 1 },
    opts: { jobId: `bare-${start + index}`, removeOnComplete: true },
  }));
  await queue.addBulk(chunk);
}
await finished;
const seconds = (performance.now() - started) / 1000;
process.stderr.write(`${describeCpu('B', cpuBefore, cpuSnapshot(), jobs, seconds)}\n`);
await worker.close();
// The Postgres backend obliterates only a paused queue.
await queue.pause();
await queue.obliterate({ force: true });
await queue.close();
if (redis !== undefined) {
  await deletePrefix(redis, prefix);
  redis.disconnect();
}
await pool?.end();
process.stdout.write(`${JSON.stringify({ jobsPerSecond: jobs / seconds })}\n`);
