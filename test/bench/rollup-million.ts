/**
 * The metrics rollup on a campaign of 1,000,000 messages (default; `[messages]` changes it): a
 * full rollup (the first run), then an incremental one after a day's worth of new activity,
 * then one with nothing changed, and one campaign recomputed whole. Prints each run's time, what it recomputed and the process's
 * peak RSS (the aggregation runs in Postgres; the process holds only the list of days).
 *
 *   node --import tsx test/bench/rollup-million.ts [messages]
 *
 * Uses DATABASE_URL's server (database `drumbeat_bench_rollup`, created and dropped here). The
 * data is made with generate_series: two steps (email with variants A and B, then LinkedIn),
 * messages spread over 30 days, 92 % sent, 5 % DEAD, 3 % SKIPPED, and about 0.6 events per
 * message (delivered, opened, replied, bounced, unsubscribed).
 */
import { loadConfig } from '../../src/config/config.js';
import { createDb } from '../../src/db/knex.js';
import { ensureDatabase, migrateLatest } from '../../src/db/migrate.js';
import { createLogger } from '../../src/log/logger.js';
import { systemClock } from '../../src/core/clock.js';
import { writeNewCampaign } from '../../src/campaigns/definition-writer.js';
import { parseCampaignSpec } from '../../src/campaigns/campaign-spec.js';
import { addSegment } from '../../src/segments/segment-service.js';
import { describeRollup, metricsRollup, type RollupResult } from '../../src/analytics/metrics-rollup.js';

const messages = Number(process.argv[2] ?? 1_000_000);
const leads = Math.ceil(messages / 2);
const config = loadConfig();
const benchUrl = new URL(config.DATABASE_URL);
benchUrl.pathname = '/drumbeat_bench_rollup';
const log = createLogger({ ...config, LOG_LEVEL: 'silent' });

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;

async function timed(label: string, run: () => Promise<RollupResult>): Promise<void> {
  peakRss = process.memoryUsage().rss;
  const result = await run();
  process.stdout.write(`${label}: ${(result.ms / 1000).toFixed(2)} s, peak RSS ${mb(peakRss)}\n  ${describeRollup(result)}\n`);
}

await ensureDatabase(benchUrl.toString());
const db = createDb({ DATABASE_URL: benchUrl.toString(), DATABASE_POOL_MAX: 4 });
try {
  await migrateLatest(db);
  await db.raw('TRUNCATE campaigns, leads, segments, metrics_rollup_state RESTART IDENTITY CASCADE');
  const now = systemClock.now();
  await addSegment(db, { name: 'enterprise', conditions: ['company~=corp'], now });
  await addSegment(db, { name: 'smb', conditions: ['company in tiny,small'], now });
  const spec = parseCampaignSpec({
    name: 'Rollup bench',
    slug: 'rollup-bench',
    mode: 'PROOF',
    timezone: 'Europe/London',
    segments: ['enterprise', 'smb'],
    from: { name: 'Bench', email: 'bench@example.com' },
    steps: [
      {
        channel: 'email',
        variants: [
          { name: 'A', subject: 'A', body: 'Pain', angle: 'pain-point' },
          { name: 'B', subject: 'B', body: 'Proof', angle: 'social-proof' },
        ],
      },
      { channel: 'linkedin', body: 'Hello' },
    ],
  });
  const campaignId = await db.transaction((trx) => writeNewCampaign(trx, spec));
  const loading = Date.now();
  await db.raw(
    `INSERT INTO leads (email, identity_hash, company, source, utm_source)
     SELECT 'lead-' || i || '@bench.example', md5('lead-' || i), (ARRAY['Big Corp', 'Tiny', 'Other'])[1 + i % 3], 'import', (ARRAY['linkedin', 'newsletter'])[1 + i % 2]
       FROM generate_series(1, ?) AS i`,
    [leads],
  );
  await db.raw(
    `INSERT INTO campaign_leads (campaign_id, lead_id, state, current_step, segment)
     SELECT ?, id, 'COMPLETED', 2, (ARRAY['enterprise', 'smb', NULL])[1 + id % 3] FROM leads`,
    [campaignId],
  );
  await db.raw(
    `INSERT INTO messages (idempotency_key, campaign_id, lead_id, enrollment_id, step_index, channel, status, variant, created_at, sending_at, sent_at, external_id)
     SELECT 'c' || cl.campaign_id || '-l' || cl.lead_id || '-s' || s.step, cl.campaign_id, cl.lead_id, cl.id, s.step,
            CASE WHEN s.step = 0 THEN 'email' ELSE 'linkedin' END,
            CASE WHEN (cl.id * 2 + s.step) % 100 < 5 THEN 'DEAD' WHEN (cl.id * 2 + s.step) % 100 < 8 THEN 'SKIPPED' ELSE 'SENT_PROOF' END,
            CASE WHEN s.step = 0 THEN (ARRAY['A', 'B'])[1 + cl.id % 2] END,
            now() - ((cl.id % 30) || ' days')::interval - interval '1 hour', now() - ((cl.id % 30) || ' days')::interval,
            now() - ((cl.id % 30) || ' days')::interval, 'proof-' || cl.id || '-' || s.step
       FROM campaign_leads cl CROSS JOIN (VALUES (0), (1)) AS s(step)
      WHERE cl.campaign_id = ? AND cl.id * 2 + s.step <= ? + 1`,
    [campaignId, messages],
  );
  await db.raw(
    `INSERT INTO contact_events (lead_id, campaign_id, message_id, type, occurred_at)
     SELECT m.lead_id, m.campaign_id, m.id, t.type, m.sent_at + interval '2 hours'
       FROM messages m
       CROSS JOIN LATERAL (VALUES ('delivered', 50), ('opened', 20), ('replied', 3), ('bounced_hard', 1), ('unsubscribed', 1)) AS t(type, per_hundred)
      WHERE m.status = 'SENT_PROOF' AND (m.id * 7 + length(t.type)) % 100 < t.per_hundred`,
  );
  await db.raw('ANALYZE');
  const [counts] = (await db.raw<{ rows: Array<{ messages: number; events: number }> }>(
    `SELECT (SELECT count(*)::int FROM messages) AS messages, (SELECT count(*)::int FROM contact_events) AS events`,
  )).rows;
  process.stdout.write(`loaded ${counts?.messages} messages, ${counts?.events} events, ${leads} leads in ${((Date.now() - loading) / 1000).toFixed(1)} s\n`);

  const rollup = metricsRollup({ db, clock: systemClock, log });
  await timed('full rollup (first run)', () => rollup.run());

  // A day's activity: 10,000 new leads enrolled, their first messages sent today, 5,000 replies.
  await db.raw(
    `INSERT INTO leads (email, identity_hash, company, source)
     SELECT 'today-' || i || '@bench.example', md5('today-' || i), 'Big Corp', 'form' FROM generate_series(1, 10000) AS i`,
  );
  await db.raw(
    `INSERT INTO campaign_leads (campaign_id, lead_id, state, current_step, segment)
     SELECT ?, id, 'ACTIVE', 1, 'enterprise' FROM leads WHERE email LIKE 'today-%'`,
    [campaignId],
  );
  await db.raw(
    `INSERT INTO messages (idempotency_key, campaign_id, lead_id, enrollment_id, step_index, channel, status, variant, created_at, sending_at, sent_at, external_id)
     SELECT 'c' || cl.campaign_id || '-l' || cl.lead_id || '-s0', cl.campaign_id, cl.lead_id, cl.id, 0, 'email', 'SENT_PROOF',
            (ARRAY['A', 'B'])[1 + cl.id % 2], now(), now(), now(), 'proof-today-' || cl.id
       FROM campaign_leads cl JOIN leads l ON l.id = cl.lead_id WHERE l.email LIKE 'today-%'`,
  );
  await db.raw(
    `INSERT INTO contact_events (lead_id, campaign_id, message_id, type, occurred_at)
     SELECT lead_id, campaign_id, id, 'replied', now() FROM messages WHERE external_id LIKE 'proof-today-%' ORDER BY id LIMIT 5000`,
  );
  await timed('incremental rollup after a day of 10,000 sends and 5,000 replies', () => rollup.run());
  await timed('incremental rollup, nothing changed', () => rollup.run());
  await timed('one campaign recomputed whole (drumbeat metrics rollup --campaign)', () => rollup.run({ campaignId }));
  const [check] = (await db.raw<{ rows: Array<{ rolled: number; record: number }> }>(
    `SELECT (SELECT sum(sent)::int FROM campaign_metrics) AS rolled, (SELECT count(*)::int FROM messages WHERE status = 'SENT_PROOF') AS record`,
  )).rows;
  process.stdout.write(`sent: rolled up ${check?.rolled}, in the record ${check?.record}\n`);
} finally {
  clearInterval(sampler);
  await db.destroy();
  const admin = createDb({ DATABASE_URL: config.DATABASE_URL, DATABASE_POOL_MAX: 1 });
  await admin.raw('DROP DATABASE IF EXISTS drumbeat_bench_rollup WITH (FORCE)');
  await admin.destroy();
}
