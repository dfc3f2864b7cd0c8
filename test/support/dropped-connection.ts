/**
 * Run by postgres-helpers.test.ts in a process of its own (a crash must not take the test runner
 * down): checks a client out of the Postgres queue store's pool, as BullMQ does between the
 * statements of a transaction, has Postgres terminate it, and prints `survived` if the process
 * is still running afterwards.
 */
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { createQueueStore } from '../../src/jobs/queue-store.js';

const config = loadConfig({ ...process.env, QUEUE_BACKEND: 'postgres', LOG_LEVEL: 'silent' });
const store = createQueueStore(config, { role: 'worker', queues: 1 }, createLogger(config));
if (store.kind !== 'postgres') throw new Error('expected the Postgres queue store');
const client = await store.pool.connect();
const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
await store.pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
await new Promise((resolve) => setTimeout(resolve, 300));
client.release(true);
await store.close();
process.stdout.write('survived\n');
