import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from '../config/config.js';

export type { Knex };

// Postgres bigint and count() come back as strings by default; ids here fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// A DATE is a calendar day, not an instant: keep it as 'YYYY-MM-DD'.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

/** Creates the Knex pool for `DATABASE_URL` (or another URL, for tests and `migrate`). */
export function createDb(config: Pick<Config, 'DATABASE_URL' | 'DATABASE_POOL_MAX'>, url = config.DATABASE_URL): Knex {
  return knexFactory({
    client: 'pg',
    // The pid in the name lets an operator (or a chaos test) find one process's backends.
    connection: { connectionString: url, application_name: `drumbeat-${process.pid}` },
    pool: { min: 0, max: config.DATABASE_POOL_MAX, idleTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 10_000,
  });
}
