import type { Knex } from 'knex';
import { migrationSource } from '../../migrations/index.js';
import { createDb } from './knex.js';

const migratorConfig = { migrationSource, tableName: 'knex_migrations' } as const;

/** Applies every pending migration; returns the names applied. */
export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migratorConfig)) as [number, string[]];
  return applied;
}

/** Rolls back every migration (used by tests and by operators tearing a database down). */
export async function migrateDownAll(db: Knex): Promise<string[]> {
  const [, reverted] = (await db.migrate.rollback(migratorConfig, true)) as [number, string[]];
  return reverted;
}

/** The names of migrations not yet applied. */
export async function pendingMigrations(db: Knex): Promise<string[]> {
  // With a migration source, Knex lists the source's own entries: their names come from the source.
  const [, pending] = (await db.migrate.list(migratorConfig)) as [unknown[], Array<Parameters<typeof migrationSource.getMigrationName>[0]>];
  return pending.map((entry) => migrationSource.getMigrationName(entry));
}

/**
 * Creates the database named in `url` if it does not exist yet, by connecting to the
 * server's `postgres` database. Lets `drumbeat migrate` and the demo start from nothing.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (name === '') return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const adminDb = createDb({ DATABASE_URL: admin.toString(), DATABASE_POOL_MAX: 1 });
  try {
    const existing = (await adminDb('pg_database').where({ datname: name }).first('datname')) as { datname: string } | undefined;
    if (existing === undefined) {
      await adminDb.raw('CREATE DATABASE ??', [name]).catch((error: unknown) => {
        // Another process created it between the check and here.
        if (!(error instanceof Error && 'code' in error && error.code === '42P04')) throw error;
      });
    }
  } finally {
    await adminDb.destroy();
  }
}
