import { expect } from 'chai';
import type { Knex } from 'knex';
import { migrationSource } from '../../migrations/index.js';
import { createDb } from '../../src/db/knex.js';
import { ensureDatabase, pendingMigrations } from '../../src/db/migrate.js';
import { testRun } from '../setup/hooks.js';

const target = '20261130100000_message_lifecycle';
const migrator = { migrationSource, tableName: 'knex_migrations' } as const;

/** A message as written before the migration: status, and the two overloaded columns. */
interface Before {
  status: string;
  skip_reason?: string;
  review_note?: string;
  decided?: boolean;
}

/** Each case: the row before, and its notes after the migration. */
const cases: Array<{ before: Before; after: Record<string, string | null> }> = [
  {
    before: { status: 'PENDING_REVIEW', skip_reason: 'placeholder left in output: TBD in body: "Price: TBD"' },
    after: { status: 'PENDING_REVIEW', review_hold_reason: 'placeholder left in output: TBD in body: "Price: TBD"' },
  },
  {
    before: { status: 'PLANNED', skip_reason: 'placeholder left in output: [Name] in body' },
    after: { status: 'PLANNED', review_hold_reason: 'placeholder left in output: [Name] in body' },
  },
  {
    before: { status: 'REJECTED', skip_reason: 'rejected in review: off-brand', review_note: 'off-brand', decided: true },
    after: { status: 'REJECTED', rejection_reason: 'off-brand' },
  },
  { before: { status: 'SENT', skip_reason: 'resolved as sent by alice' }, after: { status: 'SENT', resolution_note: 'resolved as sent by alice' } },
  { before: { status: 'DEAD', skip_reason: 'resolved as failed by alice' }, after: { status: 'DEAD', resolution_note: 'resolved as failed by alice' } },
  { before: { status: 'SKIPPED', skip_reason: 'suppressed: email (hard bounce)' }, after: { status: 'SKIPPED', skip_reason: 'suppressed: email (hard bounce)' } },
  {
    before: { status: 'QUEUED', review_note: 'personalisation skipped: llm answered HTTP 503' },
    after: { status: 'QUEUED', personalisation_note: 'personalisation skipped: llm answered HTTP 503' },
  },
  { before: { status: 'QUEUED', review_note: 'looks right', decided: true }, after: { status: 'QUEUED', review_note: 'looks right' } },
  { before: { status: 'APPROVED' }, after: { status: 'QUEUED' } },
];

const noteColumns = ['skip_reason', 'review_note', 'review_hold_reason', 'rejection_reason', 'resolution_note', 'personalisation_note'] as const;

async function seed(db: Knex): Promise<void> {
  const [campaign] = (await db('campaigns').insert({ name: 'Notes', slug: 'notes', mode: 'PROOF', spec: '{}' }).returning('id')) as Array<{ id: number }>;
  const [lead] = (await db('leads').insert({ email: 'notes@example.com', identity_hash: 'notes' }).returning('id')) as Array<{ id: number }>;
  const [enrollment] = (await db('campaign_leads').insert({ campaign_id: campaign!.id, lead_id: lead!.id }).returning('id')) as Array<{ id: number }>;
  await db('messages').insert(
    cases.map(({ before }, step) => ({
      idempotency_key: `c${campaign!.id}-l${lead!.id}-s${step}`,
      campaign_id: campaign!.id,
      lead_id: lead!.id,
      enrollment_id: enrollment!.id,
      step_index: step,
      channel: 'email',
      status: before.status,
      skip_reason: before.skip_reason ?? null,
      review_note: before.review_note ?? null,
      review_decided_at: before.decided === true ? db.fn.now() : null,
    })),
  );
}

describe('migration: one meaning per message column', function () {
  this.timeout(60_000);
  const url = (() => {
    const parsed = new URL(testRun.databaseUrl);
    parsed.pathname = `${parsed.pathname}_notes`;
    return parsed.toString();
  })();
  let db: Knex;

  before(async () => {
    await ensureDatabase(url);
    db = createDb({ DATABASE_URL: url, DATABASE_POOL_MAX: 2 });
    // The schema just before this migration, whatever comes after it.
    for (let next = (await pendingMigrations(db))[0]; next !== target; next = (await pendingMigrations(db))[0]) {
      if (next === undefined) throw new Error(`${target} is not among the migrations`);
      await db.migrate.up({ ...migrator, name: next });
    }
  });

  after(async () => {
    await db.destroy();
    const admin = createDb({ DATABASE_URL: url.replace(/\/[^/]+$/, '/postgres'), DATABASE_POOL_MAX: 1 });
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [new URL(url).pathname.slice(1)]);
    await admin.destroy();
  });

  it('moves existing notes to their own columns by status, and back on the way down', async () => {
    await seed(db);
    const overloaded = (await db('messages').orderBy('step_index').select('status', 'skip_reason', 'review_note')) as Array<Record<string, string | null>>;

    await db.migrate.up({ ...migrator, name: target });
    const after = (await db('messages').orderBy('step_index').select('status', ...noteColumns)) as Array<Record<string, string | null>>;
    const empty = Object.fromEntries(noteColumns.map((column) => [column, null]));
    expect(after).to.deep.equal(cases.map((entry) => ({ ...empty, ...entry.after })));
    await expect(db('messages').where({ step_index: 0 }).update({ status: 'APPROVED' }), 'APPROVED is no longer a status').to.be.rejectedWith('messages_status_check');

    await db.migrate.down({ ...migrator, name: target });
    const restored = (await db('messages').orderBy('step_index').select('status', 'skip_reason', 'review_note')) as Array<Record<string, string | null>>;
    // Only the APPROVED row stays as it was moved: QUEUED is what it was sent as.
    expect(restored).to.deep.equal(overloaded.map((row) => (row.status === 'APPROVED' ? { ...row, status: 'QUEUED' } : row)));
  });
});
