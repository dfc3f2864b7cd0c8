import type { Knex } from 'knex';
import * as coreSchema from './20261121000000_core_schema.js';
import * as channels from './20261121100000_channels.js';
import * as feedback from './20261121300000_feedback.js';
import * as leanMessageIndexes from './20261121400000_lean_message_indexes.js';
import * as messageFormatAndThreading from './20261129100000_message_format_and_threading.js';
import * as senderFaults from './20261129200000_sender_faults.js';
import * as accessControl from './20261129400000_access_control.js';
import * as webhookRawBodies from './20261129500000_webhook_raw_bodies.js';
import * as messageLifecycle from './20261130100000_message_lifecycle.js';
import * as campaignDefinition from './20261130200000_campaign_definition.js';
import * as learning from './20261201100000_learning.js';
import * as deliverabilityGuardAndPostMetrics from './20261201200000_deliverability_guard_and_post_metrics.js';
import * as auditLog from './20261201350000_audit_log.js';
import * as queueStoreCounters from './20261201450000_queue_store_counters.js';

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Every migration in order. Listed explicitly so that the same source works under the
 * TypeScript loader and from the compiled `dist/`, with no file-system globbing.
 */
const migrations: ReadonlyArray<readonly [string, MigrationModule]> = [
  ['20261121000000_core_schema', coreSchema],
  ['20261121100000_channels', channels],
  ['20261121300000_feedback', feedback],
  ['20261121400000_lean_message_indexes', leanMessageIndexes],
  ['20261129100000_message_format_and_threading', messageFormatAndThreading],
  ['20261129200000_sender_faults', senderFaults],
  ['20261129400000_access_control', accessControl],
  ['20261129500000_webhook_raw_bodies', webhookRawBodies],
  ['20261130100000_message_lifecycle', messageLifecycle],
  ['20261130200000_campaign_definition', campaignDefinition],
  ['20261201100000_learning', learning],
  ['20261201200000_deliverability_guard_and_post_metrics', deliverabilityGuardAndPostMetrics],
  ['20261201350000_audit_log', auditLog],
  ['20261201450000_queue_store_counters', queueStoreCounters],
];

/** The Knex migration source for drumbeat's schema. */
export const migrationSource: Knex.MigrationSource<readonly [string, MigrationModule]> = {
  getMigrations: () => Promise.resolve([...migrations]),
  getMigrationName: ([name]) => name,
  getMigration: ([, migration]) => Promise.resolve(migration),
};
