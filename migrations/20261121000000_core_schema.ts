import type { Knex } from 'knex';

/**
 * The whole data model of DESIGN.md. Unique keys carry the invariants: one message per
 * (campaign, lead, step), one inbox row per provider event, one tick per campaign and slot,
 * one counter row per cap scope and day.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('settings', (table) => {
    table.text('key').primary();
    table.jsonb('value').notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.text('updated_by');
  });

  await knex.schema.createTable('operators', (table) => {
    table.bigIncrements('id');
    table.text('email').notNullable().unique();
    table.text('password_hash').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('last_login_at', { useTz: true });
    table.timestamp('disabled_at', { useTz: true });
  });

  await knex.schema.createTable('operator_sessions', (table) => {
    table.text('id_hash').primary();
    table.bigInteger('operator_id').notNullable().references('operators.id').onDelete('CASCADE');
    table.text('csrf_token').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('expires_at', { useTz: true }).notNullable().index();
  });

  await knex.schema.createTable('api_tokens', (table) => {
    table.bigIncrements('id');
    table.text('name').notNullable();
    table.text('token_hash').notNullable().unique();
    table.bigInteger('operator_id').references('operators.id').onDelete('SET NULL');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('last_used_at', { useTz: true });
    table.timestamp('revoked_at', { useTz: true });
  });

  await knex.schema.createTable('campaigns', (table) => {
    table.bigIncrements('id');
    table.text('name').notNullable().unique();
    table.text('slug').notNullable().unique();
    table.text('status').notNullable().defaultTo('DRAFT');
    table.text('strategy_status').notNullable().defaultTo('DRAFT');
    table.text('strategy_note');
    table.text('strategy_decided_by');
    table.timestamp('strategy_decided_at', { useTz: true });
    table.text('mode').notNullable().defaultTo('PROOF');
    table.text('timezone').notNullable().defaultTo('UTC');
    table.jsonb('send_window');
    table.integer('daily_cap');
    table.integer('tick_every_ms').notNullable().defaultTo(30_000);
    table.boolean('require_review').notNullable().defaultTo(false);
    table.text('from_name');
    table.text('from_email');
    table.text('reply_to');
    table.text('on_reject').notNullable().defaultTo('SKIP_STEP');
    table.jsonb('spec').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('started_at', { useTz: true });
    table.timestamp('completed_at', { useTz: true });
  });
  await knex.raw(`
    ALTER TABLE campaigns
      ADD CONSTRAINT campaigns_status_check CHECK (status IN ('DRAFT','ACTIVE','PAUSED','COMPLETED','ARCHIVED')),
      ADD CONSTRAINT campaigns_strategy_check CHECK (strategy_status IN ('DRAFT','APPROVED','REJECTED')),
      ADD CONSTRAINT campaigns_mode_check CHECK (mode IN ('LIVE','PROOF')),
      ADD CONSTRAINT campaigns_on_reject_check CHECK (on_reject IN ('SKIP_STEP','END_LEAD')),
      ADD CONSTRAINT campaigns_active_needs_approval CHECK (status <> 'ACTIVE' OR strategy_status = 'APPROVED'),
      ADD CONSTRAINT campaigns_daily_cap_check CHECK (daily_cap IS NULL OR daily_cap > 0),
      ADD CONSTRAINT campaigns_tick_every_check CHECK (tick_every_ms >= 1000)
  `);

  await knex.schema.createTable('templates', (table) => {
    table.bigIncrements('id');
    table.text('name').notNullable();
    table.text('channel').notNullable();
    table.bigInteger('campaign_id').references('campaigns.id').onDelete('CASCADE');
    table.boolean('active').notNullable().defaultTo(true);
    table.integer('current_version').notNullable().defaultTo(1);
    table.jsonb('custom_fields').notNullable().defaultTo('[]');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`CREATE UNIQUE INDEX templates_name_scope_unique ON templates (name, coalesce(campaign_id, 0))`);
  await knex.raw(`ALTER TABLE templates ADD CONSTRAINT templates_channel_check CHECK (channel IN ('email','linkedin','x','instagram'))`);

  await knex.schema.createTable('template_versions', (table) => {
    table.bigIncrements('id');
    table.bigInteger('template_id').notNullable().references('templates.id').onDelete('CASCADE');
    table.integer('version').notNullable();
    table.text('subject');
    table.text('body').notNullable();
    table.text('created_by');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.unique(['template_id', 'version']);
  });

  await knex.schema.createTable('campaign_steps', (table) => {
    table.bigIncrements('id');
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.integer('step_index').notNullable();
    table.text('channel').notNullable();
    table.bigInteger('delay_ms').notNullable().defaultTo(0);
    table.text('subject');
    table.text('body');
    table.bigInteger('template_id').references('templates.id');
    table.boolean('stop_on_reply').notNullable().defaultTo(true);
    table.boolean('require_review').notNullable().defaultTo(false);
    table.jsonb('personalize');
    table.jsonb('variants');
    table.unique(['campaign_id', 'step_index']);
  });
  await knex.raw(`
    ALTER TABLE campaign_steps
      ADD CONSTRAINT campaign_steps_channel_check CHECK (channel IN ('email','linkedin','x','instagram')),
      ADD CONSTRAINT campaign_steps_index_check CHECK (step_index >= 0),
      ADD CONSTRAINT campaign_steps_delay_check CHECK (delay_ms >= 0),
      ADD CONSTRAINT campaign_steps_content_check CHECK (body IS NOT NULL OR template_id IS NOT NULL OR variants IS NOT NULL)
  `);

  await knex.schema.createTable('import_batches', (table) => {
    table.bigIncrements('id');
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.text('file_name').notNullable();
    table.text('file_hash').notNullable();
    table.text('created_by');
    table.text('status').notNullable().defaultTo('RUNNING');
    table.integer('total').notNullable().defaultTo(0);
    table.integer('imported').notNullable().defaultTo(0);
    table.integer('duplicates').notNullable().defaultTo(0);
    table.integer('invalid').notNullable().defaultTo(0);
    table.integer('suppressed').notNullable().defaultTo(0);
    table.jsonb('errors').notNullable().defaultTo('[]');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('finished_at', { useTz: true });
    table.index(['campaign_id', 'file_hash']);
  });
  await knex.raw(`ALTER TABLE import_batches ADD CONSTRAINT import_batches_status_check CHECK (status IN ('RUNNING','DONE','FAILED'))`);

  await knex.schema.createTable('leads', (table) => {
    table.bigIncrements('id');
    table.text('email');
    table.text('identity_hash').notNullable().unique();
    table.text('first_name');
    table.text('last_name');
    table.text('company');
    table.text('timezone');
    table.text('linkedin_id');
    table.text('x_user_id');
    table.text('instagram_user_id');
    table.jsonb('custom').notNullable().defaultTo('{}');
    table.text('consent').notNullable().defaultTo('UNKNOWN');
    table.text('source');
    table.text('source_ref');
    table.text('utm_source');
    table.text('utm_medium');
    table.text('utm_campaign');
    table.text('utm_content');
    table.text('utm_term');
    table.text('referrer');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('erased_at', { useTz: true });
  });
  await knex.raw(`CREATE UNIQUE INDEX leads_email_unique ON leads (email) WHERE email IS NOT NULL`);
  await knex.raw(`
    ALTER TABLE leads
      ADD CONSTRAINT leads_email_lower_check CHECK (email IS NULL OR email = lower(email)),
      ADD CONSTRAINT leads_consent_check CHECK (consent IN ('UNKNOWN','GRANTED','DENIED','WITHDRAWN'))
  `);

  await knex.schema.createTable('campaign_leads', (table) => {
    table.bigIncrements('id');
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.bigInteger('lead_id').notNullable().references('leads.id').onDelete('CASCADE');
    table.text('state').notNullable().defaultTo('NEW');
    table.integer('current_step').notNullable().defaultTo(0);
    table.timestamp('next_action_at', { useTz: true });
    table.bigInteger('import_batch_id').references('import_batches.id').onDelete('SET NULL');
    table.integer('soft_bounces').notNullable().defaultTo(0);
    table.text('end_reason');
    table.timestamp('enrolled_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('last_sent_at', { useTz: true });
    table.timestamp('ended_at', { useTz: true });
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.unique(['campaign_id', 'lead_id']);
    table.index(['lead_id']);
  });
  await knex.raw(`
    ALTER TABLE campaign_leads ADD CONSTRAINT campaign_leads_state_check
      CHECK (state IN ('NEW','ACTIVE','COMPLETED','REPLIED','BOUNCED','UNSUBSCRIBED','SUPPRESSED','FAILED'))
  `);
  // The tick's index: only live enrollments with a due time, in due order, keyset by id.
  await knex.raw(`
    CREATE INDEX campaign_leads_due_idx ON campaign_leads (campaign_id, next_action_at, id)
      WHERE state IN ('NEW','ACTIVE') AND next_action_at IS NOT NULL
  `);

  await knex.schema.createTable('messages', (table) => {
    table.bigIncrements('id');
    table.text('idempotency_key').notNullable().unique();
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.bigInteger('lead_id').notNullable().references('leads.id').onDelete('CASCADE');
    table.bigInteger('enrollment_id').notNullable().references('campaign_leads.id').onDelete('CASCADE');
    table.integer('step_index').notNullable();
    table.text('channel').notNullable();
    table.text('status').notNullable().defaultTo('PLANNED');
    table.text('recipient');
    table.text('subject');
    table.text('body');
    table.bigInteger('template_version_id').references('template_versions.id');
    table.text('variant');
    table.text('review_decided_by');
    table.timestamp('review_decided_at', { useTz: true });
    table.text('review_note');
    table.text('provider');
    table.text('external_id');
    table.text('provider_message_id');
    table.text('unsubscribe_token_hash').unique();
    table.integer('attempts').notNullable().defaultTo(0);
    table.text('last_error');
    table.text('skip_reason');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('queued_at', { useTz: true });
    table.timestamp('sending_at', { useTz: true });
    table.timestamp('sent_at', { useTz: true });
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.unique(['campaign_id', 'lead_id', 'step_index']);
    table.index(['campaign_id', 'status']);
    table.index(['lead_id']);
  });
  await knex.raw(`
    ALTER TABLE messages
      ADD CONSTRAINT messages_status_check CHECK (status IN ('PLANNED','COMPOSED','PENDING_REVIEW','APPROVED','REJECTED',
        'QUEUED','SENDING','SENT','SENT_PROOF','FAILED','DEAD','SKIPPED','UNKNOWN')),
      ADD CONSTRAINT messages_channel_check CHECK (channel IN ('email','linkedin','x','instagram')),
      ADD CONSTRAINT messages_key_check CHECK (idempotency_key !~ ':' AND idempotency_key !~ '^[0-9]+$')
  `);
  // The reconciler's scans: queued work to re-enqueue, stale in-flight sends.
  await knex.raw(`CREATE INDEX messages_queued_idx ON messages (id) WHERE status IN ('QUEUED','APPROVED')`);
  await knex.raw(`CREATE INDEX messages_sending_idx ON messages (sending_at) WHERE status = 'SENDING'`);
  await knex.raw(`CREATE INDEX messages_provider_message_id_idx ON messages (provider_message_id) WHERE provider_message_id IS NOT NULL`);

  // Append-only record of every PROOF adapter call: what "the provider" received.
  await knex.schema.createTable('proof_deliveries', (table) => {
    table.bigIncrements('id');
    table.bigInteger('message_id').notNullable();
    table.text('idempotency_key').notNullable().index();
    table.text('channel').notNullable();
    table.text('recipient');
    table.text('subject');
    table.text('body');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('template_renders', (table) => {
    table.bigIncrements('id');
    table.bigInteger('template_version_id').notNullable().references('template_versions.id').onDelete('CASCADE');
    table.bigInteger('message_id').references('messages.id').onDelete('CASCADE');
    table.text('context_hash').notNullable();
    table.text('output_hash').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('suppressions', (table) => {
    table.bigIncrements('id');
    table.text('kind').notNullable();
    table.text('value').notNullable();
    table.bigInteger('campaign_id').references('campaigns.id').onDelete('CASCADE');
    table.text('reason').notNullable().defaultTo('manual');
    table.text('created_by');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE suppressions ADD CONSTRAINT suppressions_kind_check CHECK (kind IN ('email','domain','identity'))`);
  await knex.raw(`CREATE UNIQUE INDEX suppressions_unique ON suppressions (kind, value, coalesce(campaign_id, 0))`);

  await knex.schema.createTable('unsubscribes', (table) => {
    table.bigIncrements('id');
    table.bigInteger('lead_id').references('leads.id').onDelete('SET NULL');
    table.text('identity_hash').notNullable();
    table.bigInteger('campaign_id').references('campaigns.id').onDelete('SET NULL');
    table.bigInteger('message_id').references('messages.id').onDelete('SET NULL');
    table.text('source').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.index(['identity_hash']);
  });

  await knex.schema.createTable('inbox_events', (table) => {
    table.bigIncrements('id');
    table.text('provider').notNullable();
    table.text('event_id').notNullable();
    table.text('type').notNullable();
    table.jsonb('payload').notNullable();
    table.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('applied_at', { useTz: true });
    table.text('apply_error');
    table.unique(['provider', 'event_id']);
  });
  await knex.raw(`CREATE INDEX inbox_events_unapplied_idx ON inbox_events (id) WHERE applied_at IS NULL`);

  await knex.schema.createTable('contact_events', (table) => {
    table.bigIncrements('id');
    table.bigInteger('lead_id').notNullable().references('leads.id').onDelete('CASCADE');
    table.bigInteger('campaign_id').references('campaigns.id').onDelete('SET NULL');
    table.bigInteger('message_id').references('messages.id').onDelete('SET NULL');
    table.bigInteger('inbox_event_id').references('inbox_events.id').onDelete('SET NULL');
    table.text('type').notNullable();
    table.jsonb('data').notNullable().defaultTo('{}');
    table.timestamp('occurred_at', { useTz: true }).notNullable();
    table.index(['lead_id', 'occurred_at']);
  });
  await knex.raw(`CREATE UNIQUE INDEX contact_events_inbox_unique ON contact_events (inbox_event_id, lead_id) WHERE inbox_event_id IS NOT NULL`);

  await knex.schema.createTable('attributions', (table) => {
    table.bigIncrements('id');
    table.bigInteger('lead_id').notNullable().references('leads.id').onDelete('CASCADE');
    table.bigInteger('campaign_id').references('campaigns.id').onDelete('CASCADE');
    table.text('touch').notNullable();
    table.text('source');
    table.text('utm_source');
    table.text('utm_medium');
    table.text('utm_campaign');
    table.text('utm_content');
    table.text('utm_term');
    table.text('referrer');
    table.timestamp('occurred_at', { useTz: true }).notNullable();
  });
  await knex.raw(`ALTER TABLE attributions ADD CONSTRAINT attributions_touch_check CHECK (touch IN ('FIRST','LAST','CONVERSION'))`);
  await knex.raw(`CREATE UNIQUE INDEX attributions_first_touch_unique ON attributions (lead_id, coalesce(campaign_id, 0)) WHERE touch = 'FIRST'`);

  await knex.schema.createTable('campaign_metrics', (table) => {
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.date('day').notNullable();
    for (const counter of ['sent', 'sent_proof', 'failed', 'skipped', 'delivered', 'opened', 'clicked', 'replied', 'bounced', 'complained', 'unsubscribed']) {
      table.integer(counter).notNullable().defaultTo(0);
    }
    table.primary(['campaign_id', 'day']);
  });

  await knex.schema.createTable('channel_metrics', (table) => {
    table.text('channel').notNullable();
    table.text('account').notNullable().defaultTo('default');
    table.date('day').notNullable();
    for (const counter of ['sent', 'failed', 'bounced', 'complained']) {
      table.integer(counter).notNullable().defaultTo(0);
    }
    table.primary(['channel', 'account', 'day']);
  });

  await knex.schema.createTable('variant_stats', (table) => {
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.integer('step_index').notNullable();
    table.text('variant').notNullable();
    for (const counter of ['sent', 'opened', 'clicked', 'replied']) {
      table.integer(counter).notNullable().defaultTo(0);
    }
    table.primary(['campaign_id', 'step_index', 'variant']);
  });

  // Cap counters: one row per scope (`global`, `channel-<c>`, `campaign-<id>`: see src/messages/caps.ts) and local day,
  // incremented atomically with a bound so that caps hold across any number of workers.
  await knex.schema.createTable('send_counters', (table) => {
    table.text('scope').notNullable();
    table.date('day').notNullable();
    table.integer('used').notNullable().defaultTo(0);
    table.primary(['scope', 'day']);
  });
  await knex.raw(`ALTER TABLE send_counters ADD CONSTRAINT send_counters_used_check CHECK (used >= 0)`);

  await knex.schema.createTable('tick_runs', (table) => {
    table.bigIncrements('id');
    table.bigInteger('campaign_id').notNullable().references('campaigns.id').onDelete('CASCADE');
    table.timestamp('slot', { useTz: true }).notNullable();
    table.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('finished_at', { useTz: true });
    table.integer('selected').notNullable().defaultTo(0);
    table.integer('created').notNullable().defaultTo(0);
    table.integer('enqueued').notNullable().defaultTo(0);
    table.integer('held_for_review').notNullable().defaultTo(0);
    table.text('outcome');
    table.unique(['campaign_id', 'slot']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'tick_runs',
    'send_counters',
    'variant_stats',
    'channel_metrics',
    'campaign_metrics',
    'attributions',
    'contact_events',
    'inbox_events',
    'unsubscribes',
    'suppressions',
    'template_renders',
    'proof_deliveries',
    'messages',
    'campaign_leads',
    'leads',
    'import_batches',
    'campaign_steps',
    'template_versions',
    'templates',
    'campaigns',
    'api_tokens',
    'operator_sessions',
    'operators',
    'settings',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
