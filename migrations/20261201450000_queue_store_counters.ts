import type { Knex } from 'knex';

/**
 * What the Redis-backed helpers keep in Redis, for `QUEUE_BACKEND=postgres`: fixed-window
 * counters (form rate limits, the per-domain email throttle, the LLM budget) and the circuit
 * breaker states the workers report. The counters are UNLOGGED, as cheap as Postgres writes get:
 * a crash empties them, which only forgets the current minute's counts (Redis without
 * persistence does the same). Both tables exist in either mode; only the Postgres mode writes them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE UNLOGGED TABLE window_counters (
      name text PRIMARY KEY,
      window_start bigint NOT NULL,
      hits integer NOT NULL,
      amount bigint NOT NULL DEFAULT 0
    )`);
  await knex.schema.createTable('breaker_states', (table) => {
    table.text('name').primary();
    table.jsonb('state').notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('breaker_states');
  await knex.schema.dropTableIfExists('window_counters');
}
