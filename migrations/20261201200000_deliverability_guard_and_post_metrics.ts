import type { Knex } from 'knex';

/**
 * Watching a campaign:
 * - `campaigns.guard`: the deliverability guard's thresholds (`maxHardBounceRate`,
 *   `maxComplaintRate`, `minSends`), NULL when the spec says `guard: off`; existing campaigns get
 *   the defaults;
 * - `guard_events`: each time the guard paused a campaign, one row per rate that crossed its line
 *   (the inbox event that crossed it is the once-only key);
 * - two partial indexes that keep the guard's one count query per bounce or complaint cheap: the
 *   campaign's email sends by time, and its hard bounces and complaints by time;
 * - `post_metrics`: what the platforms report about each published post, one row per post and day;
 * - `channel_metrics.post_*`: room for the per-channel sums of those rows, filled by the rollup
 *   (the platforms' own figures stay in `post_metrics`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE campaigns ADD COLUMN guard jsonb DEFAULT '{"maxHardBounceRate":0.05,"maxComplaintRate":0.003,"minSends":50}'`);

  await knex.schema.createTable('guard_events', (table) => {
    table.bigIncrements('id');
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.bigInteger('inbox_event_id').references('inbox_events.id').onDelete('SET NULL');
    table.text('kind').notNullable();
    table.integer('sends').notNullable();
    table.integer('count').notNullable();
    table.double('rate').notNullable();
    table.double('threshold').notNullable();
    table.timestamp('occurred_at', { useTz: true }).notNullable();
    table.unique(['inbox_event_id', 'kind']);
    table.index(['campaign_id', 'occurred_at']);
  });
  await knex.raw(`ALTER TABLE guard_events ADD CONSTRAINT guard_events_kind_check CHECK (kind IN ('hard_bounce','complaint'))`);

  await knex.raw(`CREATE INDEX messages_email_sent_idx ON messages (campaign_id, sent_at) WHERE status = 'SENT' AND channel = 'email'`);
  await knex.raw(`CREATE INDEX contact_events_deliverability_idx ON contact_events (campaign_id, occurred_at) WHERE type IN ('bounced_hard','complained')`);

  await knex.schema.createTable('post_metrics', (table) => {
    table.bigInteger('post_id').notNullable().references('campaign_posts.id').onDelete('CASCADE');
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.text('platform').notNullable();
    table.date('day').notNullable();
    for (const figure of ['impressions', 'likes', 'reposts', 'replies', 'clicks', 'saves']) table.integer(figure);
    table.text('status').notNullable().defaultTo('OK');
    table.timestamp('fetched_at', { useTz: true }).notNullable();
    table.primary(['post_id', 'day']);
    table.index(['campaign_id', 'day']);
  });
  await knex.raw(`
    ALTER TABLE post_metrics
      ADD CONSTRAINT post_metrics_platform_check CHECK (platform IN ('linkedin','x','instagram')),
      ADD CONSTRAINT post_metrics_status_check CHECK (status IN ('OK','DELETED'))
  `);

  await knex.raw(`
    ALTER TABLE channel_metrics
      ADD COLUMN IF NOT EXISTS post_impressions integer,
      ADD COLUMN IF NOT EXISTS post_likes integer,
      ADD COLUMN IF NOT EXISTS post_reposts integer,
      ADD COLUMN IF NOT EXISTS post_replies integer
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE channel_metrics
      DROP COLUMN IF EXISTS post_replies,
      DROP COLUMN IF EXISTS post_reposts,
      DROP COLUMN IF EXISTS post_likes,
      DROP COLUMN IF EXISTS post_impressions
  `);
  await knex.schema.dropTableIfExists('post_metrics');
  await knex.raw(`DROP INDEX IF EXISTS contact_events_deliverability_idx`);
  await knex.raw(`DROP INDEX IF EXISTS messages_email_sent_idx`);
  await knex.schema.dropTableIfExists('guard_events');
  await knex.raw(`ALTER TABLE campaigns DROP COLUMN guard`);
}
