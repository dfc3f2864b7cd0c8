import { expect } from 'chai';
import { createDb } from '../../src/db/knex.js';
import { ensureDatabase, migrateDownAll, migrateLatest, pendingMigrations } from '../../src/db/migrate.js';
import { testRun } from '../setup/hooks.js';

describe('migrations', function () {
  this.timeout(60_000);
  const url = (() => {
    const parsed = new URL(testRun.databaseUrl);
    parsed.pathname = `${parsed.pathname}_updown`;
    return parsed.toString();
  })();

  after(async () => {
    const admin = createDb({ DATABASE_URL: url.replace(/\/[^/]+$/, '/postgres'), DATABASE_POOL_MAX: 1 });
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [new URL(url).pathname.slice(1)]);
    await admin.destroy();
  });

  it('go up and down cleanly, and up again', async () => {
    await ensureDatabase(url);
    const db = createDb({ DATABASE_URL: url, DATABASE_POOL_MAX: 2 });
    try {
      const applied = await migrateLatest(db);
      expect(applied.length).to.be.greaterThan(0);
      expect(await pendingMigrations(db)).to.deep.equal([]);
      for (const table of ['campaigns', 'messages', 'inbox_events', 'tick_runs', 'operators', 'api_tokens', 'variant_stats']) {
        expect(await db.schema.hasTable(table), table).to.equal(true);
      }
      const reverted = await migrateDownAll(db);
      expect(reverted).to.have.members(applied);
      const { rows } = await db.raw<{ rows: unknown[] }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'knex_migrations%'`);
      expect(rows).to.deep.equal([]);
      expect(await migrateLatest(db)).to.deep.equal(applied);
    } finally {
      await db.destroy();
    }
  });

  it('enforce one message per campaign, lead and step, and one inbox row per provider event', async () => {
    const db = createDb({ DATABASE_URL: testRun.databaseUrl, DATABASE_POOL_MAX: 1 });
    try {
      const { rows } = await db.raw<{ rows: Array<{ indexdef: string }> }>(`SELECT indexdef FROM pg_indexes WHERE tablename IN ('messages', 'inbox_events', 'campaign_leads')`);
      const definitions = rows.map((row) => row.indexdef).join('\n');
      expect(definitions).to.match(/UNIQUE INDEX .* ON public\.messages USING btree \(campaign_id, lead_id, step_index\)/);
      expect(definitions).to.match(/UNIQUE INDEX .* ON public\.inbox_events USING btree \(provider, event_id\)/);
      expect(definitions).to.match(/campaign_leads_due_idx ON public\.campaign_leads USING btree \(campaign_id, next_action_at, id\) WHERE/);
    } finally {
      await db.destroy();
    }
  });

  it('keep idempotency keys unique: each is bound to its campaign, lead and step', async () => {
    const db = createDb({ DATABASE_URL: testRun.databaseUrl, DATABASE_POOL_MAX: 1 });
    const rollback = new Error('rollback');
    const failureCode = async (trx: typeof db, row: Record<string, unknown>): Promise<string | undefined> => {
      await trx.raw('SAVEPOINT attempt');
      try {
        await trx('messages').insert(row);
        await trx.raw('RELEASE SAVEPOINT attempt');
        return undefined;
      } catch (error) {
        await trx.raw('ROLLBACK TO SAVEPOINT attempt');
        return (error as { code?: string }).code;
      }
    };
    try {
      await db
        .transaction(async (trx) => {
          const [campaign] = (await trx('campaigns').insert({ name: 'Keys', slug: 'keys-check', mode: 'PROOF', spec: '{}' }).returning('id')) as Array<{ id: number }>;
          const [lead] = (await trx('leads').insert({ email: 'keys@example.com', identity_hash: 'keys-check' }).returning('id')) as Array<{ id: number }>;
          const [enrollment] = (await trx('campaign_leads').insert({ campaign_id: campaign!.id, lead_id: lead!.id }).returning('id')) as Array<{ id: number }>;
          const message = (stepIndex: number, key: string) => ({
            idempotency_key: key,
            campaign_id: campaign!.id,
            lead_id: lead!.id,
            enrollment_id: enrollment!.id,
            step_index: stepIndex,
            channel: 'email',
          });
          const key = (stepIndex: number) => `c${campaign!.id}-l${lead!.id}-s${stepIndex}`;
          expect(await failureCode(trx, message(0, key(0)))).to.equal(undefined);
          expect(await failureCode(trx, message(0, key(0))), 'the same key again').to.equal('23505');
          expect(await failureCode(trx, message(1, key(0))), "another step under the first step's key").to.equal('23514');
          expect(await failureCode(trx, message(1, 'custom-key')), 'a key not derived from its step').to.equal('23514');
          expect(await failureCode(trx, message(1, key(1)))).to.equal(undefined);
          throw rollback;
        })
        .catch((error: unknown) => {
          if (error !== rollback) throw error;
        });
    } finally {
      await db.destroy();
    }
  });
});
