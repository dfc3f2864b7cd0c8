import { PostgresConnection, PostgresQueueBackend, type BackendFactory, type PostgresConnectionOptions } from 'bullmq';
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

  override getListenClient(): ReturnType<PostgresConnection['getListenClient']> {
    return this.shared.getListenClient();
  }

  override get hasListenClientKeepAlive(): boolean {
    return this.shared.hasListenClientKeepAlive;
  }

  // The shared connection keeps the process's name (`drumbeat-<pid>`), not one queue's.
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

/** Workers' backends over `pool` with one LISTEN connection between them; `close` ends it once the workers are closed. */
export interface SharedListenBackends {
  factory: BackendFactory<PostgresQueueBackend, PostgresConnectionOptions>;
  close(): Promise<void>;
}

/** The maximum of notification waits one LISTEN client carries at once: one per queue, with room. */
const maxWaitsPerClient = 64;

export function sharedListenBackends(pool: pg.Pool): SharedListenBackends {
  const shared = new PostgresConnection(pool);
  // The shared connection's errors reach each worker through its view; this keeps one unanswered error from throwing.
  shared.on('error', () => undefined);
  // Every worker waiting for its queue adds a notification listener to the one client.
  pool.on('connect', (client) => client.setMaxListeners(maxWaitsPerClient));
  return {
    factory: (queueName, options) => new PostgresQueueBackend(new SharedListenConnection(pool, shared), queueName, options, true),
    close: () => shared.close(),
  };
}
