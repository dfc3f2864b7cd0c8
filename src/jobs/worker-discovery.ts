import { PostgresConnection, PostgresQueueBackend, type BackendFactory, type PostgresConnectionOptions, type QueueBaseOptions } from 'bullmq';
import type pg from 'pg';
import { workersListenPattern } from './shared-listen.js';

/** A named Postgres session of this database, as the client list reports it. */
interface NamedSession {
  pid: number;
  application_name: string;
  addr: string;
  age: number;
  serves_every_queue: boolean;
}

const namedSessions = `
  SELECT pid, application_name,
         COALESCE(host(client_addr) || ':' || client_port, 'local') AS addr,
         floor(extract(epoch FROM now() - backend_start))::int AS age,
         application_name ~ $1 AS serves_every_queue
    FROM pg_stat_activity
   WHERE datname = current_database() AND application_name <> ''`;

/**
 * A queue's Postgres backend that finds drumbeat's workers, for `Queue#getWorkers` (Bull Board's
 * worker list and its "nothing is consuming this queue" badge). BullMQ finds a queue's workers by
 * the `application_name` each worker gives its own LISTEN connection; drumbeat's workers share
 * one per process (`shared-listen.ts`), named after the process. A worker process always works
 * every queue of the catalogue (`startWorkers` refuses to start otherwise), so each such
 * connection counts as a worker of this queue. Each entry carries the connection's address and
 * age, as Redis's client list does (the board lists no worker without an address).
 */
class WorkerDiscoveringBackend extends PostgresQueueBackend {
  constructor(
    private readonly pool: pg.Pool,
    name: string,
    options: QueueBaseOptions<PostgresConnectionOptions>,
  ) {
    super(new PostgresConnection(pool), name, options, true);
  }

  override async getClientList(): Promise<string[]> {
    const { rows } = await this.pool.query<NamedSession>(namedSessions, [workersListenPattern]);
    const lines = rows.map((row) => {
      // BullMQ's matcher takes `<queue>` or `<queue>:w:<worker name>`; the list is split on spaces.
      const name = row.serves_every_queue ? `${this.queueName}:w:${row.application_name}` : row.application_name.replace(/\s/g, '_');
      return `id=${row.pid} addr=${row.addr} age=${row.age} name=${name}`;
    });
    return [lines.join('\n')];
  }
}

/** The backend factory of drumbeat's queues (producers, and the board's) on `pool`. */
export function workerDiscoveringBackends(pool: pg.Pool): BackendFactory<PostgresQueueBackend, PostgresConnectionOptions> {
  return (name, options) => new WorkerDiscoveringBackend(pool, name, options);
}
