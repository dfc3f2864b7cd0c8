import type { Knex } from 'knex';

/**
 * Real channels: the content calendar (one row per campaign post, its key unique and used as the
 * `publish-<platform>` jobId) and LLM token use per campaign and day.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('campaign_posts', (table) => {
    table.bigIncrements('id');
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.integer('post_index').notNullable();
    table.text('post_key').notNullable().unique();
    table.text('platform').notNullable();
    table.text('text').notNullable();
    table.text('media_url');
    table.timestamp('scheduled_at', { useTz: true }).notNullable();
    table.text('status').notNullable().defaultTo('SCHEDULED');
    table.text('provider');
    table.text('external_id');
    table.integer('attempts').notNullable().defaultTo(0);
    table.text('last_error');
    table.text('skip_reason');
    table.text('review_decided_by');
    table.timestamp('review_decided_at', { useTz: true });
    table.timestamp('publishing_at', { useTz: true });
    table.timestamp('published_at', { useTz: true });
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.unique(['campaign_id', 'post_index']);
  });
  await knex.raw(`
    ALTER TABLE campaign_posts
      ADD CONSTRAINT campaign_posts_platform_check CHECK (platform IN ('linkedin','x','instagram')),
      ADD CONSTRAINT campaign_posts_status_check CHECK (status IN ('SCHEDULED','PENDING_REVIEW','APPROVED','REJECTED',
        'PUBLISHING','PUBLISHED','PUBLISHED_PROOF','FAILED','DEAD','SKIPPED','UNKNOWN')),
      ADD CONSTRAINT campaign_posts_key_check CHECK (post_key !~ ':' AND post_key !~ '^[0-9]+$')
  `);
  await knex.raw(`CREATE INDEX campaign_posts_waiting_idx ON campaign_posts (campaign_id) WHERE status IN ('SCHEDULED','APPROVED','FAILED')`);

  await knex.schema.createTable('llm_usage', (table) => {
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.date('day').notNullable();
    table.integer('requests').notNullable().defaultTo(0);
    table.integer('prompt_tokens').notNullable().defaultTo(0);
    table.integer('completion_tokens').notNullable().defaultTo(0);
    table.integer('fallbacks').notNullable().defaultTo(0);
    table.primary(['campaign_id', 'day']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('llm_usage');
  await knex.schema.dropTableIfExists('campaign_posts');
}
