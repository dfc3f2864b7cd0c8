import type { Knex } from 'knex';

/**
 * Failures that are not the lead's:
 * - why and by whom a campaign was paused (`paused_by` is `drumbeat` when the engine paused it
 *   on a sender, account, relay or configuration fault; `cli` or `api` for an operator), shown
 *   by `campaign show`, the report and `/readyz` until the campaign is resumed;
 * - secrets drumbeat creates for itself on first use, one row per name, so that every process
 *   of an installation signs with the same key and keeps it across restarts (the unsubscribe
 *   links of an installation with no UNSUBSCRIBE_SECRET or SESSION_SECRET).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('campaigns', (table) => {
    table.text('pause_reason');
    table.timestamp('paused_at', { useTz: true });
    table.text('paused_by');
  });
  await knex.schema.createTable('installation_secrets', (table) => {
    table.text('name').primary();
    table.text('secret').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('installation_secrets');
  await knex.schema.alterTable('campaigns', (table) => {
    table.dropColumn('paused_by');
    table.dropColumn('paused_at');
    table.dropColumn('pause_reason');
  });
}
