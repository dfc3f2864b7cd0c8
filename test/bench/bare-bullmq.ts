/**
 * Phase B of `npm run bench`, in a process of its own so that phase P starts from a fresh heap:
 * BullMQ alone moving N no-op jobs, added with addBulk in chunks of 1,000 and processed by one
 * worker at the given concurrency, removeOnComplete. Prints its CPU line to stderr and
 * `{"jobsPerSecond":…}` to stdout, and deletes its keys.
 *
 *   node --import tsx test/bench/bare-bullmq.ts <jobs> <concurrency> [queue prefix]
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/config.js';
import { cpuSnapshot, describeCpu } from './cpu-usage.js';
import { deletePrefix } from './redis-keys.js';

const jobs = Number(process.argv[2]);
const concurrency = Number(process.argv[3]);
const prefix = process.argv[4] ?? `benchbare${process.pid}`;
if (!Number.isInteger(jobs) || jobs <= 0 || !Number.isInteger(concurrency) || concurrency <= 0) {
  throw new Error('usage: bare-bullmq.ts <jobs> <concurrency> [queue prefix]');
}

const redis = new Redis(loadConfig().REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue('bare', { connection: redis, prefix });
let done = 0;
let finish: () => void = () => undefined;
const finished = new Promise<void>((resolve) => (finish = resolve));
const worker = new Worker(
  'bare',
  () => {
    done += 1;
    if (done === jobs) finish();
    return Promise.resolve();
  },
  { connection: redis, prefix, concurrency },
);
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
await queue.obliterate({ force: true });
await queue.close();
await deletePrefix(redis, prefix);
redis.disconnect();
process.stdout.write(`${JSON.stringify({ jobsPerSecond: jobs / seconds })}\n`);
