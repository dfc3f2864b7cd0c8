import { runMigrations } from 'bullmq';
import pg from 'pg';
import { QUEUE_SCHEMA } from './queue-store.js';

/**
 * Brings BullMQ's own schema (`bullmq`, for `QUEUE_BACKEND=postgres`) up to this BullMQ's
 * version with BullMQ's migrations: idempotent, in one transaction under BullMQ's advisory lock,
 * so processes starting together migrate once. Returns the schema version.
 */
export async function migrateQueueSchema(databaseUrl: string): Promise<number> {
  // BullMQ migrates on one dedicated session, never a pool: its lock and transaction must share it.
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await runMigrations(client, QUEUE_SCHEMA);
  } finally {
    await client.end();
  }
}
