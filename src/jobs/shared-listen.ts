import { PostgresConnection, PostgresQueueBackend, type BackendFactory, type PostgresConnectionOptions } from 'bullmq';
import { EventEmitter } from 'node:events';
import type pg from 'pg';

/**
 * One worker's view of a LISTEN connection shared by every worker of the process.
 *
 * BullMQ's Postgres backend gives each worker a connection of its own that it holds for as long
 * as it runs (its LISTEN for new jobs). With fifteen queues that is fifteen connections per
 * process, and four worker processes plus their query pools pass Postgres' default
 * `max_connections` of 100. The backend filters notifications by queue name on a channel all
 * queues share, so one LISTEN connection serves them all: this view hands the shared one out,
 * passes on its rebuilds and errors, and leaves it open when its own worker closes.
 */
class SharedListenConnection extends PostgresConnection {
  private closed: Promise<void> | undefined;

  constructor(
    pool: pg.Pool,
    private readonly shared: PostgresConnection,
  ) {
    super(pool);
    // The shared client was rebuilt after a drop: this worker must LISTEN again on the new one.
    shared.on('listenerinvalidated', () => this.emit('listenerinvalidated'));
    shared.on('error', (error: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  override getListenClient(): Promise<ListenClient> {
    return this.shared.getListenClient().then(serializedQueries);
  }

  override get hasListenClientKeepAlive(): boolean {
    return this.shared.hasListenClientKeepAlive;
  }

  // The shared connection has the process's name (`workersListenName`), not one queue's.
  override setListenClientName(): Promise<void> {
    return Promise.resolve();
  }

  override get isClosing(): Promise<void> | undefined {
    return this.closed;
  }

  override close(): Promise<void> {
    this.closed ??= Promise.resolve().then(() => {
      this.emit('close');
    });
    return this.closed;
  }
}

type ListenClient = Awaited<ReturnType<PostgresConnection['getListenClient']>>;

/** The maximum of notification waits one LISTEN client carries at once: one per queue, with room. */
const maxWaitsPerClient = 64;

const serializedClients = new WeakMap<ListenClient, ListenClient>();

/**
 * The `application_name` of a worker process's shared LISTEN connection. How the board finds the
 * workers on Postgres (`worker-discovery.ts`), and how an operator tells it from the process's
 * pooled connections (`drumbeat-<pid>`).
 */
export function workersListenName(pid: number = process.pid): string {
  return `drumbeat-${pid}-workers`;
}

/** Matches {@link workersListenName} (a POSIX regular expression, for Postgres's `~`). */
export const workersListenPattern = '^drumbeat-[0-9]+-workers$';

/**
 * The shared client with its queries run one after the other: each worker issues its LISTEN on
 * it, and node-postgres deprecates a query sent while another is running on the same client.
 * Its first query names it (a client rebuilt after a drop is a new one, named again); it is
 * never returned to the pool, so the name never reaches a pooled connection.
 */
function serializedQueries(client: ListenClient): ListenClient {
  const known = serializedClients.get(client);
  if (known !== undefined) return known;
  // Every worker waiting for its queue adds a notification listener to the one client.
  if (client instanceof EventEmitter) client.setMaxListeners(maxWaitsPerClient);
  // Best effort: an unnamed LISTEN still serves; only the board's worker list would miss it.
  let tail: Promise<unknown> = client.query(`SELECT set_config('application_name', $1, false)`, [workersListenName()]).catch(() => undefined);
  const query: ListenClient['query'] = <R>(text: string, params?: readonly unknown[]) => {
    const run = tail.then(() => client.query<R>(text, params));
    tail = run.catch(() => undefined);
    return run;
  };
  const serialized = new Proxy(client, {
    get(target, property) {
      if (property === 'query') return query;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  serializedClients.set(client, serialized);
  return serialized;
}

/** Postgres errors after which the same statement may simply run again: deadlock, serialization failure. */
const retryableCodes = new Set(['40P01', '40001']);

/**
 * A worker's backend that renews its jobs' locks again when Postgres chose the renewal as a
 * deadlock's victim: BullMQ renews many jobs in one statement, which can deadlock with another
 * worker's claim or finish under load, and a lock not renewed lets the job stall (a send caught
 * so ends UNKNOWN, for an operator to resolve).
 */
class WorkerBackend extends PostgresQueueBackend {
  override async extendLocks(jobIds: string[], tokens: string[], duration: number): Promise<string[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await super.extendLocks(jobIds, tokens, duration);
      } catch (error) {
        if (attempt === 3 || !retryableCodes.has((error as { code?: unknown }).code as string)) throw error;
      }
    }
  }
}

/** Workers' backends over `pool` with one LISTEN connection between them; `close` ends it once the workers are closed. */
export interface SharedListenBackends {
  factory: BackendFactory<PostgresQueueBackend, PostgresConnectionOptions>;
  close(): Promise<void>;
}

export function sharedListenBackends(pool: pg.Pool): SharedListenBackends {
  const shared = new PostgresConnection(pool);
  // The shared connection's errors reach each worker through its view; this keeps one unanswered error from throwing.
  shared.on('error', () => undefined);
  // Each worker's view listens for rebuilds and errors of the shared connection.
  shared.setMaxListeners(0);
  return {
    factory: (queueName, options) => new WorkerBackend(new SharedListenConnection(pool, shared), queueName, options, true),
    close: () => shared.close(),
  };
}
