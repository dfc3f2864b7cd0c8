import {
  Queue,
  Worker,
  type Job,
  type JobProgress,
  type JobsOptions,
  type PostgresConnectionOptions,
  type PostgresQueueBackend,
  type WorkerOptions,
} from 'bullmq';
import pg from 'pg';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { createRedisConnection, type ConnectionRole, type RedisClient } from '../redis/connection.js';
import { describeTopologySettings, redisTopology } from '../redis/topology.js';
import { sharedListenBackends } from './shared-listen.js';
import { workerDiscoveringBackends } from './worker-discovery.js';
import { keepCompleted, keepCompletedOnPostgres } from './queue-definition.js';

/** The schema BullMQ's Postgres backend lives in (its default; a shared pool cannot name another). */
export const QUEUE_SCHEMA = 'bullmq';

/** A queue on BullMQ's Postgres backend. Job data is parsed by drumbeat's schemas, hence `any` inside BullMQ. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PostgresQueue = Queue<any, any, string, any, any, string, PostgresQueueBackend, PostgresConnectionOptions>;
/** A queue on either store; the methods drumbeat calls are the same on both. */
export type AppQueue = Queue | PostgresQueue;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type PostgresWorker = Worker<any, any, string, PostgresQueueBackend, JobProgress, PostgresConnectionOptions>;
/** A worker on either store. */
export type AppWorker = Worker | PostgresWorker;

/** The function a worker runs per job. */
export type JobHandler = (job: Job, token?: string) => Promise<unknown>;

/** The worker options drumbeat sets, the same on both stores (the connection is the store's). */
export type AppWorkerOptions = Pick<WorkerOptions, 'concurrency' | 'lockDuration' | 'stalledInterval' | 'limiter' | 'metrics'>;

/** Opens workers on the store; `close` releases what they needed beyond the store itself. */
export interface WorkerFactory {
  create(name: string, handler: JobHandler, options: AppWorkerOptions): AppWorker;
  close(): Promise<void>;
}

interface QueueStoreBase {
  /** A queue with these default job options. */
  createQueue(name: string, defaultJobOptions: JobsOptions): AppQueue;
  /** What the workers of this process connect with. */
  openWorkers(): WorkerFactory;
  /**
   * Whether the store takes jobs now. A route that enqueues answers 503 when it does not, and a
   * webhook stores its events and defers their jobs (BullMQ would otherwise wait, however long).
   */
  available(): Promise<boolean>;
  /** One sentence for preflight and `/readyz`: where the queues are. */
  describe(): string;
  close(): Promise<void>;
}

/**
 * BullMQ on Redis (`QUEUE_BACKEND=redis`, the default): one connection per role, of the configured
 * topology (one server, a Cluster or through Sentinel), keys under `QUEUE_PREFIX`.
 */
export interface RedisQueueStore extends QueueStoreBase {
  readonly kind: 'redis';
  readonly redis: RedisClient;
}

/**
 * BullMQ's Postgres backend (`QUEUE_BACKEND=postgres`): every queue in schema `bullmq` of
 * `DATABASE_URL`, over one `pg.Pool` per process. No Redis connection is opened.
 */
export interface PostgresQueueStore extends QueueStoreBase {
  readonly kind: 'postgres';
  /** Sized `QUEUE_POOL_MAX` for queries, plus one connection the process's workers LISTEN on. */
  readonly pool: pg.Pool;
}

export type QueueStore = RedisQueueStore | PostgresQueueStore;

/** What {@link createQueueStore} needs to know about the process it serves. */
export interface QueueStoreOptions {
  /** How a Redis connection behaves while Redis is away (see `ConnectionRole`). */
  role: ConnectionRole;
  /** How many queues this process may open (each listens for the Postgres pool's errors). */
  queues: number;
}

function redisQueueStore(config: Config, role: ConnectionRole, log: Logger): RedisQueueStore {
  const redis = createRedisConnection(config, role, log);
  return {
    kind: 'redis',
    redis,
    createQueue(name, defaultJobOptions) {
      const queue: Queue = new Queue(name, { connection: redis, prefix: config.QUEUE_PREFIX, defaultJobOptions });
      return queue;
    },
    openWorkers() {
      // Workers block on their own connection; producers of the HTTP role must not wait for it.
      const connection = createRedisConnection(config, 'worker', log);
      return {
        create(name, handler, options) {
          const worker: Worker = new Worker(name, handler, { ...options, connection, prefix: config.QUEUE_PREFIX });
          return worker;
        },
        close: () => connection.quit().then(
          () => undefined,
          () => connection.disconnect(),
        ),
      };
    },
    available: () => Promise.resolve(redis.status === 'ready'),
    describe: () => `Queues run on ${describeTopologySettings(redisTopology(config))} under the prefix "${config.QUEUE_PREFIX}".`,
    close: () => redis.quit().then(
      () => undefined,
      () => redis.disconnect(),
    ),
  };
}

/** How long a probe of the Postgres queue store is trusted before it is asked again. */
const availabilityTtlMs = 1000;
/** How long a probe waits for Postgres before it counts the store as unavailable. */
const availabilityDeadlineMs = 2000;

function postgresQueueStore(config: Config, options: QueueStoreOptions, log: Logger): PostgresQueueStore {
  // A pool passed to BullMQ keeps its own search_path: the backend's unqualified SQL must find its schema.
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.QUEUE_POOL_MAX,
    options: `-c search_path=${QUEUE_SCHEMA}`,
    // The pid in the name lets an operator (or a chaos test) find one process's backends.
    application_name: `drumbeat-${process.pid}`,
    keepAlive: true,
    idleTimeoutMillis: 10_000,
    // No connection timeout: under load (hundreds of concurrent jobs) a query waits its turn for
    // a pool slot, and a timeout there would fail job completions and lose their locks.
  });
  // Every BullMQ queue and worker on the pool listens for its errors, as this store does.
  pool.setMaxListeners(options.queues + 1);
  let lastLoggedAt = 0;
  pool.on('error', (error) => {
    // An idle connection dropped (Postgres restarted, a backend terminated): the pool replaces it.
    const now = Date.now();
    if (now - lastLoggedAt > 5000) {
      lastLoggedAt = now;
      log.warn({ err: error }, 'queue store (Postgres) connection error');
    }
  });
  // A checked-out client has no error listener of the pool's (BullMQ holds one between the
  // statements of a transaction): were Postgres to drop it just then, node-postgres would emit an
  // unanswered 'error' and end the process. The dead client fails its next statement instead.
  pool.on('connect', (client) => client.on('error', () => undefined));
  let probe: { at: number; result: Promise<boolean> } | undefined;
  const queueBackends = workerDiscoveringBackends(pool);
  return {
    kind: 'postgres',
    pool,
    createQueue(name, defaultJobOptions) {
      const retention = defaultJobOptions.removeOnComplete === keepCompleted ? { removeOnComplete: keepCompletedOnPostgres } : {};
      const queue: PostgresQueue = new Queue(name, { connection: pool, defaultJobOptions: { ...defaultJobOptions, ...retention } }, queueBackends);
      return queue;
    },
    openWorkers() {
      const maxListenersBefore = pool.getMaxListeners();
      const errorListenersBefore = new Set(pool.listeners('error'));
      // The workers of this process share one LISTEN connection, held out of the pool as long as
      // they run: the pool grows by one so queries keep QUEUE_POOL_MAX.
      pool.setMaxListeners(maxListenersBefore + 1);
      const backends = sharedListenBackends(pool);
      pool.options.max += 1;
      return {
        create(name, handler, workerOptions) {
          pool.setMaxListeners(pool.getMaxListeners() + 1);
          // Without BullMQ's per-minute metrics: on Postgres they are one row per queue that every
          // completion updates, which serializes a queue's completions at the rate of commits.
          const worker: PostgresWorker = new Worker(name, handler, { ...workerOptions, metrics: undefined, connection: pool }, backends.factory);
          return worker;
        },
        async close() {
          await backends.close();
          pool.options.max -= 1;
          // BullMQ's connections listen for errors of a pool they do not own and never stop: the
          // workers are closed, so their listeners go (the store's own stays).
          for (const listener of pool.listeners('error')) {
            if (!errorListenersBefore.has(listener)) pool.removeListener('error', listener as (error: Error) => void);
          }
          pool.setMaxListeners(maxListenersBefore);
        },
      };
    },
    available() {
      const now = Date.now();
      if (probe === undefined || now - probe.at > availabilityTtlMs) {
        let timer: NodeJS.Timeout | undefined;
        const unanswered = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), availabilityDeadlineMs)));
        const answered = pool.query('SELECT 1').then(
          () => true,
          () => false,
        );
        probe = { at: now, result: Promise.race([answered, unanswered]).finally(() => clearTimeout(timer)) };
      }
      return probe.result;
    },
    describe: () =>
      `Queues run on Postgres (BullMQ's Postgres backend, schema "${QUEUE_SCHEMA}" of DATABASE_URL, a pool of ${config.QUEUE_POOL_MAX} connections per process plus one its workers share to LISTEN); no Redis is used.`,
    close: () => pool.end(),
  };
}

/**
 * The queue store `QUEUE_BACKEND` names. On Redis, the connection is made now (ioredis connects
 * at once); on Postgres, the pool connects on first use and nothing touches Redis.
 */
export function createQueueStore(config: Config, options: QueueStoreOptions, log: Logger): QueueStore {
  return config.QUEUE_BACKEND === 'postgres' ? postgresQueueStore(config, options, log) : redisQueueStore(config, options.role, log);
}
