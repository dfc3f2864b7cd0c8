import type { Knex } from 'knex';

/**
 * What the recipient sees.
 * - A body's format (`text` | `html`) is stored with whatever holds the body: inline steps
 *   (`campaign_steps.format`; A/B variants carry theirs in the `variants` JSON), template
 *   versions, messages (so the adapter knows what the stored body is) and the proof ledger.
 *   Existing rows become `text`, which is how the adapter has always treated a stored body.
 * - Follow-up emails thread: a step may ask to (`campaign_steps.thread`), and each message
 *   stores the `In-Reply-To` and `References` headers fixed when it was planned, next to its
 *   subject. `references` is a reserved word in SQL, hence `thread_references`.
 */
export async function up(knex: Knex): Promise<void> {
  for (const table of ['campaign_steps', 'template_versions', 'messages', 'proof_deliveries']) {
    // A constant default adds the column without rewriting the table; the check is validated
    // apart, under a lock that lets sends go on while it scans.
    await knex.raw(`ALTER TABLE ${table} ADD COLUMN format text NOT NULL DEFAULT 'text'`);
    await knex.raw(`ALTER TABLE ${table} ADD CONSTRAINT ${table}_format_check CHECK (format IN ('text','html')) NOT VALID`);
    await knex.raw(`ALTER TABLE ${table} VALIDATE CONSTRAINT ${table}_format_check`);
  }
  await knex.raw(`ALTER TABLE campaign_steps ADD COLUMN thread boolean NOT NULL DEFAULT false`);
  for (const table of ['messages', 'proof_deliveries']) {
    await knex.raw(`ALTER TABLE ${table} ADD COLUMN in_reply_to text, ADD COLUMN thread_references text`);
  }
  // Only email has HTML bodies; the social channels send text.
  await knex.raw(`ALTER TABLE campaign_steps ADD CONSTRAINT campaign_steps_html_email_check CHECK (format = 'text' OR channel = 'email')`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['messages', 'proof_deliveries']) {
    await knex.raw(`ALTER TABLE ${table} DROP COLUMN in_reply_to, DROP COLUMN thread_references`);
  }
  await knex.raw(`ALTER TABLE campaign_steps DROP CONSTRAINT campaign_steps_html_email_check, DROP COLUMN thread`);
  for (const table of ['campaign_steps', 'template_versions', 'messages', 'proof_deliveries']) {
    await knex.raw(`ALTER TABLE ${table} DROP COLUMN format`);
  }
}
