import { expect } from 'chai';
import { createDb } from '../../src/db/knex.js';
import { ensureDatabase, migrateDownAll, migrateLatest, pendingMigrations } from '../../src/db/migrate.js';
import { testRun } from '../setup/hooks.js';
import { migrationSource } from '../../migrations/index.js';
import { loadCampaignDefinition } from '../../src/campaigns/campaign-definition.js';
import { clockNow } from '../support/clock.js';

describe('migrations', function () {
  this.timeout(60_000);
  /** A scratch database of this run, beside the run's own. */
  const scratchUrl = (suffix: string) => {
    const parsed = new URL(testRun.databaseUrl);
    parsed.pathname = `${parsed.pathname}_${suffix}`;
    return parsed.toString();
  };
  const url = scratchUrl('updown');
  const backfillUrl = scratchUrl('backfill');

  after(async () => {
    const admin = createDb({ DATABASE_URL: url.replace(/\/[^/]+$/, '/postgres'), DATABASE_POOL_MAX: 1 });
    for (const scratch of [url, backfillUrl]) await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [new URL(scratch).pathname.slice(1)]);
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

  it('move what only the spec JSON held into rows: prompts, LLM fallback, custom fields, and the posts no tick wrote yet', async () => {
    await ensureDatabase(backfillUrl);
    const db = createDb({ DATABASE_URL: backfillUrl, DATABASE_POOL_MAX: 2 });
    const migrator = { migrationSource, tableName: 'knex_migrations' };
    const at = clockNow().after(86_400_000);
    try {
      await migrateLatest(db);
      // Back to the schema before the definition had rows of its own (undoing every later
      // migration first), with a campaign as it wrote them.
      const definitionMigration = '20261130200000_campaign_definition';
      for (;;) {
        const [completed] = (await db.migrate.list(migrator)) as [Array<{ name: string }>, unknown[]];
        if (!completed.some((migration) => migration.name === definitionMigration)) break;
        await db.migrate.down(migrator);
      }
      const spec = {
        llmFallback: 'REVIEW',
        customFields: ['plan'],
        steps: [
          { channel: 'email', subject: 'Hi', body: 'One', personalize: { prompt: 'Mention their plan.' } },
          { channel: 'email', body: 'Two' },
        ],
        posts: [
          { platform: 'x', text: 'Published by an earlier tick', at: at.toISOString(), requireReview: false },
          { platform: 'linkedin', text: 'Added by an edit, not ticked yet', mediaUrl: 'https://example.com/a', at: at.toISOString(), requireReview: true },
        ],
      };
      const [campaign] = (await db('campaigns').insert({ name: 'Old', slug: 'old', mode: 'PROOF', spec: JSON.stringify(spec) }).returning('id')) as Array<{ id: number }>;
      const id = campaign!.id;
      await db('campaign_steps').insert([
        { campaign_id: id, step_index: 0, channel: 'email', subject: 'Hi', body: 'One' },
        { campaign_id: id, step_index: 1, channel: 'email', body: 'Two' },
      ]);
      await db('campaign_posts').insert({ campaign_id: id, post_index: 0, post_key: `p${id}-0`, platform: 'x', text: 'Published by an earlier tick', scheduled_at: at, status: 'PUBLISHED' });
      const [bare] = (await db('campaigns').insert({ name: 'Bare', slug: 'bare', mode: 'PROOF', spec: '{}' }).returning('id')) as Array<{ id: number }>;

      await db.migrate.up(migrator);
      const definition = await loadCampaignDefinition(db, id);
      expect(definition?.campaign).to.deep.include({ llmFallback: 'REVIEW', customFields: ['plan'] });
      expect(definition?.steps.map((step) => step.personalizePrompt)).to.deep.equal(['Mention their plan.', null]);
      expect(definition?.posts.map((post) => [post.postKey, post.platform, post.text, post.mediaUrl, post.status, post.scheduledAt.toISOString()])).to.deep.equal([
        [`p${id}-0`, 'x', 'Published by an earlier tick', null, 'PUBLISHED', at.toISOString()],
        [`p${id}-1`, 'linkedin', 'Added by an edit, not ticked yet', 'https://example.com/a', 'PENDING_REVIEW', at.toISOString()],
      ]);
      expect((await loadCampaignDefinition(db, bare!.id))?.campaign).to.deep.include({ llmFallback: 'TEMPLATE', customFields: [] });

      await db.migrate.down(migrator);
      expect(await db('campaign_steps').where({ campaign_id: id }).orderBy('step_index').pluck('personalize')).to.deep.equal([{ prompt: 'Mention their plan.' }, null]);
    } finally {
      await db.destroy();
    }
  });
});
