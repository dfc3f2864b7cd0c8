import type { Knex } from 'knex';

/** The statuses of a message that is not finished: the only ones looked up per campaign. */
const unfinishedStatuses = `'PLANNED','COMPOSED','PENDING_REVIEW','APPROVED','QUEUED','SENDING','FAILED','DEAD','UNKNOWN'`;

/**
 * Fewer index entries per message write. Every status change rewrites the row into each of
 * its indexes (status is indexed, so no update is HOT), and each message changes status at
 * least three times on its way out; so:
 * - the idempotency key is bound to its (campaign, lead, step) by a CHECK, and the unique
 *   index on that triple makes it unique: its own unique index only repeated the work;
 * - the unsubscribe token hash is unique where it is set (NULLs took index entries too);
 * - (campaign_id, status) indexes unfinished messages only, the ones looked up by status;
 *   per-campaign counts use the (campaign_id, lead_id, step_index) index.
 * And the reconciler's scan for lost jobs also covers FAILED (waiting for a retry), which its
 * partial index left out, so that scan walked the primary key over every message.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE messages
      DROP CONSTRAINT messages_key_check,
      ADD CONSTRAINT messages_key_check CHECK (idempotency_key = 'c' || campaign_id || '-l' || lead_id || '-s' || step_index),
      DROP CONSTRAINT messages_idempotency_key_unique,
      DROP CONSTRAINT messages_unsubscribe_token_hash_unique
  `);
  await knex.raw(`CREATE UNIQUE INDEX messages_unsubscribe_token_hash_unique ON messages (unsubscribe_token_hash) WHERE unsubscribe_token_hash IS NOT NULL`);
  await knex.raw(`DROP INDEX messages_campaign_id_status_index`);
  await knex.raw(`CREATE INDEX messages_unfinished_idx ON messages (campaign_id, status) WHERE status IN (${unfinishedStatuses})`);
  await knex.raw(`DROP INDEX messages_queued_idx`);
  await knex.raw(`CREATE INDEX messages_queued_idx ON messages (id) WHERE status IN ('QUEUED','APPROVED','FAILED')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX messages_queued_idx`);
  await knex.raw(`CREATE INDEX messages_queued_idx ON messages (id) WHERE status IN ('QUEUED','APPROVED')`);
  await knex.raw(`DROP INDEX messages_unfinished_idx`);
  await knex.raw(`CREATE INDEX messages_campaign_id_status_index ON messages (campaign_id, status)`);
  await knex.raw(`DROP INDEX messages_unsubscribe_token_hash_unique`);
  await knex.raw(`
    ALTER TABLE messages
      ADD CONSTRAINT messages_unsubscribe_token_hash_unique UNIQUE (unsubscribe_token_hash),
      ADD CONSTRAINT messages_idempotency_key_unique UNIQUE (idempotency_key),
      DROP CONSTRAINT messages_key_check,
      ADD CONSTRAINT messages_key_check CHECK (idempotency_key !~ ':' AND idempotency_key !~ '^[0-9]+$')
  `);
}
