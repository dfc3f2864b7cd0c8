import type { Knex } from 'knex';

/**
 * The audit log (issue 16): one row for every state change a person makes, from the admin pages,
 * the admin API or the CLI — who (`actor`), through what (`via`), what (`action` on `subject_type`
 * / `subject_id`) and the state before and after. Append-only: a trigger refuses UPDATE and
 * DELETE (TRUNCATE stays possible for the owner, which test resets and a deliberate purge use).
 * Indexed for the page's filters: newest first, by actor, by action, by subject.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL,
      actor text NOT NULL,
      action text NOT NULL,
      subject_type text NOT NULL,
      subject_id text,
      before jsonb,
      after jsonb,
      via text NOT NULL CHECK (via IN ('page', 'api', 'cli'))
    )
  `);
  await knex.raw(`CREATE INDEX audit_log_at_index ON audit_log (at DESC, id DESC)`);
  await knex.raw(`CREATE INDEX audit_log_actor_index ON audit_log (actor, at DESC)`);
  await knex.raw(`CREATE INDEX audit_log_action_index ON audit_log (action, at DESC)`);
  await knex.raw(`CREATE INDEX audit_log_subject_index ON audit_log (subject_type, subject_id, at DESC)`);
  await knex.raw(`
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
    END
    $$
  `);
  await knex.raw(`
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE audit_log`);
  await knex.raw(`DROP FUNCTION audit_log_append_only()`);
}
