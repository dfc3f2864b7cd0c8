import type { Knex } from 'knex';

/** The counters every metrics table keeps, in this order (each an integer, 0 by default). */
const counters = ['sent', 'sent_proof', 'failed', 'skipped', 'delivered', 'opened', 'clicked', 'replied', 'bounced_hard', 'bounced_soft', 'complained', 'unsubscribed'];

function addCounters(table: Knex.CreateTableBuilder): void {
  for (const counter of counters) table.integer(counter).notNullable().defaultTo(0);
}

/**
 * Knowing what works (issue 15): metrics rolled up from messages and applied events,
 * attribution, ICP segments and what the variant choice learns from.
 *
 * - `metrics_daily`: the rollup's own grain, one row per (campaign, local day, channel, step,
 *   variant, segment); `campaign_metrics`, `channel_metrics` and `variant_stats` are sums of it.
 *   An event that names no message and follows none is kept with channel and variant `(none)`
 *   and step -1: it counts for its campaign and day only.
 * - `campaign_metrics`: `bounced` becomes `bounced_hard` and `bounced_soft`.
 * - `channel_metrics` and `variant_stats` were never written: they are made again, keyed by
 *   (campaign, channel, day) and (campaign, step, variant, segment); `variant_stats.angle` is the
 *   variant's angle, for narrative memory. Other columns may be added to `channel_metrics` (post
 *   engagement); the rollup writes only its own.
 * - `metrics_rollup_state`: the transaction id horizon up to which the incremental rollup has
 *   seen every change (rows written by later transactions are the ones to recompute).
 * - `attributions`: touches FIRST and LAST (the channel of the first and last message sent to a
 *   lead in a campaign) and OUTCOME (one row per reply, bounce, complaint or unsubscribe event,
 *   credited to the lead's source and UTM). CONVERSION was never written.
 * - `segments` (named rules over lead fields), `campaigns.segments` (the names a spec lists, in
 *   order), `campaign_leads.segment` (the label given at enrollment; NULL for none).
 * - `campaign_steps.variant_selection` (`weighted` hash or `thompson`) and
 *   `min_sends_per_variant`; `messages.variant_reason` (why this variant).
 * - `narrative_memory`: a view of (segment, angle) → sends and replies across campaigns.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('segments', (table) => {
    table.bigIncrements('id');
    table.text('name').notNullable().unique();
    table.jsonb('rules').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE campaigns ADD COLUMN segments jsonb NOT NULL DEFAULT '[]'`);
  await knex.raw(`ALTER TABLE campaign_leads ADD COLUMN segment text`);
  await knex.raw(`
    ALTER TABLE campaign_steps
      ADD COLUMN variant_selection text NOT NULL DEFAULT 'weighted',
      ADD COLUMN min_sends_per_variant integer NOT NULL DEFAULT 20,
      ADD CONSTRAINT campaign_steps_variant_selection_check CHECK (variant_selection IN ('weighted','thompson')),
      ADD CONSTRAINT campaign_steps_min_sends_check CHECK (min_sends_per_variant > 0)
  `);
  await knex.raw(`ALTER TABLE messages ADD COLUMN variant_reason text`);
  // The rollup and the report read a campaign's events by campaign.
  await knex.raw(`CREATE INDEX contact_events_campaign_idx ON contact_events (campaign_id, occurred_at) WHERE campaign_id IS NOT NULL`);

  await knex.raw(`ALTER TABLE campaign_metrics DROP COLUMN bounced, ADD COLUMN bounced_hard integer NOT NULL DEFAULT 0, ADD COLUMN bounced_soft integer NOT NULL DEFAULT 0`);
  await knex.schema.dropTable('channel_metrics');
  await knex.schema.createTable('channel_metrics', (table) => {
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.text('channel').notNullable();
    table.date('day').notNullable();
    addCounters(table);
    table.primary(['campaign_id', 'channel', 'day']);
  });
  await knex.schema.dropTable('variant_stats');
  await knex.schema.createTable('variant_stats', (table) => {
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.integer('step_index').notNullable();
    table.text('variant').notNullable();
    table.text('segment').notNullable();
    table.text('angle');
    addCounters(table);
    table.primary(['campaign_id', 'step_index', 'variant', 'segment']);
  });
  await knex.schema.createTable('metrics_daily', (table) => {
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.date('day').notNullable();
    table.text('channel').notNullable();
    table.integer('step_index').notNullable();
    table.text('variant').notNullable();
    table.text('segment').notNullable();
    addCounters(table);
    table.primary(['campaign_id', 'day', 'channel', 'step_index', 'variant', 'segment']);
  });
  await knex.schema.createTable('metrics_rollup_state', (table) => {
    table.text('name').primary();
    table.bigInteger('horizon').notNullable();
    table.timestamp('rolled_up_at', { useTz: true }).notNullable();
  });

  await knex.raw(`
    ALTER TABLE attributions
      DROP CONSTRAINT attributions_touch_check,
      ADD CONSTRAINT attributions_touch_check CHECK (touch IN ('FIRST','LAST','OUTCOME')),
      ADD COLUMN source_ref text,
      ADD COLUMN import_batch_id bigint REFERENCES import_batches (id) ON DELETE SET NULL,
      ADD COLUMN channel text,
      ADD COLUMN message_id bigint REFERENCES messages (id) ON DELETE SET NULL,
      ADD COLUMN outcome text,
      ADD COLUMN contact_event_id bigint REFERENCES contact_events (id) ON DELETE CASCADE
  `);
  await knex.raw(`CREATE UNIQUE INDEX attributions_last_touch_unique ON attributions (lead_id, coalesce(campaign_id, 0)) WHERE touch = 'LAST'`);
  await knex.raw(`CREATE UNIQUE INDEX attributions_outcome_unique ON attributions (contact_event_id) WHERE touch = 'OUTCOME'`);
  await knex.raw(`CREATE INDEX attributions_campaign_idx ON attributions (campaign_id, touch)`);

  await knex.raw(`
    CREATE VIEW narrative_memory AS
    SELECT segment, angle, sum(sent)::int AS sends, sum(least(replied, sent))::int AS replies, count(DISTINCT campaign_id)::int AS campaigns
      FROM variant_stats
     WHERE angle IS NOT NULL
     GROUP BY segment, angle
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP VIEW narrative_memory`);
  await knex.raw(`DELETE FROM attributions WHERE touch <> 'FIRST'`);
  await knex.raw(`DROP INDEX attributions_campaign_idx`);
  await knex.raw(`DROP INDEX attributions_outcome_unique`);
  await knex.raw(`DROP INDEX attributions_last_touch_unique`);
  await knex.raw(`
    ALTER TABLE attributions
      DROP COLUMN contact_event_id, DROP COLUMN outcome, DROP COLUMN message_id, DROP COLUMN channel,
      DROP COLUMN import_batch_id, DROP COLUMN source_ref,
      DROP CONSTRAINT attributions_touch_check,
      ADD CONSTRAINT attributions_touch_check CHECK (touch IN ('FIRST','LAST','CONVERSION'))
  `);
  await knex.schema.dropTable('metrics_rollup_state');
  await knex.schema.dropTable('metrics_daily');
  await knex.schema.dropTable('variant_stats');
  await knex.schema.createTable('variant_stats', (table) => {
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.integer('step_index').notNullable();
    table.text('variant').notNullable();
    for (const counter of ['sent', 'opened', 'clicked', 'replied']) table.integer(counter).notNullable().defaultTo(0);
    table.primary(['campaign_id', 'step_index', 'variant']);
  });
  await knex.schema.dropTable('channel_metrics');
  await knex.schema.createTable('channel_metrics', (table) => {
    table.text('channel').notNullable();
    table.text('account').notNullable().defaultTo('default');
    table.date('day').notNullable();
    for (const counter of ['sent', 'failed', 'bounced', 'complained']) table.integer(counter).notNullable().defaultTo(0);
    table.primary(['channel', 'account', 'day']);
  });
  await knex.raw(`ALTER TABLE campaign_metrics DROP COLUMN bounced_hard, DROP COLUMN bounced_soft, ADD COLUMN bounced integer NOT NULL DEFAULT 0`);
  await knex.raw(`DROP INDEX contact_events_campaign_idx`);
  await knex.raw(`ALTER TABLE messages DROP COLUMN variant_reason`);
  await knex.raw(`
    ALTER TABLE campaign_steps
      DROP CONSTRAINT campaign_steps_min_sends_check,
      DROP CONSTRAINT campaign_steps_variant_selection_check,
      DROP COLUMN min_sends_per_variant,
      DROP COLUMN variant_selection
  `);
  await knex.raw(`ALTER TABLE campaign_leads DROP COLUMN segment`);
  await knex.raw(`ALTER TABLE campaigns DROP COLUMN segments`);
  await knex.schema.dropTable('segments');
}
