import type { Knex } from 'knex';

/**
 * A signed webhook whose text Postgres cannot hold as it came (a NUL character, a lone
 * surrogate) is still applied, with those characters replaced; its exact bytes are kept here so
 * that nothing the provider said is lost. Each body once (by SHA-256), linked from its events.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('inbox_raw_bodies', (table) => {
    table.bigIncrements('id');
    table.text('provider').notNullable();
    table.text('sha256').notNullable().unique();
    table.binary('body').notNullable();
    table.text('reason').notNullable();
    table.timestamp('received_at', { useTz: true }).notNullable();
  });
  await knex.schema.alterTable('inbox_events', (table) => {
    table.bigInteger('raw_body_id').references('inbox_raw_bodies.id').onDelete('SET NULL');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('inbox_events', (table) => {
    table.dropColumn('raw_body_id');
  });
  await knex.schema.dropTableIfExists('inbox_raw_bodies');
}
