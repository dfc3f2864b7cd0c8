import type { Knex } from 'knex';

/**
 * Access control (issue 13): operator roles, token expiry, and login throttling counters.
 *
 * - `operators.role`: the roles of `src/operators/roles.ts`, spelled out here so this migration
 *   stays what it was when that list grows. Operators that exist already become `admin` (they
 *   could do everything before); new rows must name their role (no default).
 * - `api_tokens.expires_at`: NULL never expires (every token that exists keeps no expiry).
 *   Deleting an operator now deletes their tokens: with SET NULL a deleted viewer's tokens
 *   would have become ownerless, which act as `operator`.
 * - `login_throttles`: sign-in counters per account and per client IP, shared by every api
 *   process through Postgres (one row per kind and key, written with `ON CONFLICT`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE operators ADD COLUMN role text NOT NULL DEFAULT 'admin'`);
  await knex.raw(`
    ALTER TABLE operators
      ALTER COLUMN role DROP DEFAULT,
      ADD CONSTRAINT operators_role_check CHECK (role IN ('admin', 'operator', 'reviewer', 'viewer'))
  `);
  await knex.raw(`
    ALTER TABLE api_tokens
      ADD COLUMN expires_at timestamptz,
      DROP CONSTRAINT api_tokens_operator_id_foreign,
      ADD CONSTRAINT api_tokens_operator_id_foreign FOREIGN KEY (operator_id) REFERENCES operators (id) ON DELETE CASCADE
  `);
  await knex.raw(`CREATE INDEX api_tokens_operator_id_index ON api_tokens (operator_id) WHERE operator_id IS NOT NULL`);
  await knex.raw(`CREATE INDEX operator_sessions_operator_id_index ON operator_sessions (operator_id)`);
  await knex.raw(`
    CREATE TABLE login_throttles (
      kind text NOT NULL CHECK (kind IN ('account', 'ip')),
      key text NOT NULL,
      failures integer NOT NULL DEFAULT 0,
      window_started_at timestamptz NOT NULL,
      last_failure_at timestamptz NOT NULL,
      lockouts integer NOT NULL DEFAULT 0,
      blocked_until timestamptz,
      PRIMARY KEY (kind, key)
    )
  `);
  await knex.raw(`CREATE INDEX login_throttles_last_failure_at_index ON login_throttles (last_failure_at)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE login_throttles`);
  await knex.raw(`DROP INDEX operator_sessions_operator_id_index`);
  await knex.raw(`DROP INDEX api_tokens_operator_id_index`);
  await knex.raw(`
    ALTER TABLE api_tokens
      DROP COLUMN expires_at,
      DROP CONSTRAINT api_tokens_operator_id_foreign,
      ADD CONSTRAINT api_tokens_operator_id_foreign FOREIGN KEY (operator_id) REFERENCES operators (id) ON DELETE SET NULL
  `);
  await knex.raw(`ALTER TABLE operators DROP COLUMN role`);
}
