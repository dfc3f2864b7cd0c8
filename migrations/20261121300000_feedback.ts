import type { Knex } from 'knex';

/**
 * Feedback in: the Mailgun signing tokens already accepted (a token is good once, so a captured
 * request cannot be replayed), and an index to match provider events by the provider's own
 * message id (`messages.external_id`) as well as by our Message-ID.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_replay_tokens', (table) => {
    table.text('provider').notNullable();
    table.text('token').notNullable();
    table.timestamp('seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.primary(['provider', 'token']);
    table.index(['seen_at']);
  });
  await knex.raw(`CREATE INDEX messages_external_id_idx ON messages (external_id) WHERE external_id IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX IF EXISTS messages_external_id_idx`);
  await knex.schema.dropTableIfExists('webhook_replay_tokens');
}
