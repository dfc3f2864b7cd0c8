/**
 * Imports a generated CSV of N rows (default 1,000,000) through the streaming importer into a
 * scratch database and prints rows/s and peak RSS: the bounded-memory figure of issue 6.
 *
 *   node --import tsx test/bench/import-million.ts [rows]
 *
 * Uses DATABASE_URL's server (database `drumbeat_bench_import`, created and dropped here).
 * The CSV goes to the OS temp directory and is removed afterwards.
 */
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { createDb } from '../../src/db/knex.js';
import { ensureDatabase, migrateLatest } from '../../src/db/migrate.js';
import { systemClock } from '../../src/core/clock.js';
import { writeNewCampaign } from '../../src/campaigns/definition-writer.js';
import { parseCampaignSpec } from '../../src/campaigns/campaign-spec.js';
import { importLeadsCsv } from '../../src/leads/lead-import.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const config = loadConfig();
const benchUrl = new URL(config.DATABASE_URL);
benchUrl.pathname = '/drumbeat_bench_import';

async function writeCsv(path: string): Promise<void> {
  const out = createWriteStream(path);
  out.write('\uFEFFEmail,First Name,Last Name,Company,Title,utm_source\r\n');
  for (let index = 0; index < rows; index += 1) {
    // Every 1000th row invalid, every 500th a duplicate of the previous row: the error paths run too.
    const email = index % 1000 === 999 ? `not-an-email-${index}` : `lead-${index - (index % 500 === 499 ? 1 : 0)}@bench.example`;
    const line = `${email},First${index},"Last, ${index}",Company ${index % 977},Engineer,bench\r\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

const path = join(tmpdir(), `drumbeat-import-${process.pid}.csv`);
await ensureDatabase(benchUrl.toString());
const db = createDb({ DATABASE_URL: benchUrl.toString(), DATABASE_POOL_MAX: 6 });
try {
  await migrateLatest(db);
  await db.raw('TRUNCATE campaigns, leads RESTART IDENTITY CASCADE');
  const spec = parseCampaignSpec({
    name: 'Import bench',
    slug: 'import-bench',
    mode: 'PROOF',
    from: { name: 'Bench', email: 'bench@example.com' },
    steps: [{ channel: 'email', delay: '0s', subject: 'Hi', body: 'Hello' }],
  });
  const campaignId = await db.transaction((trx) => writeNewCampaign(trx, spec));
  await writeCsv(path);
  const size = (await stat(path)).size;
  const rssBefore = process.memoryUsage().rss;
  peakRss = rssBefore;
  const started = process.hrtime.bigint();
  let lastPrint = 0;
  const report = await importLeadsCsv(
    { db, clock: systemClock },
    {
      campaignId,
      path,
      fileName: 'bench.csv',
      createdBy: 'bench',
      onProgress: (counts) => {
        if (counts.total - lastPrint >= 100_000) {
          lastPrint = counts.total;
          process.stderr.write(`  ${counts.total} rows, rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB\n`);
        }
      },
    },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (report.outcome !== 'imported') throw new Error('the bench file was already imported');
  const result = {
    rows: report.total,
    imported: report.imported,
    duplicates: report.duplicates,
    invalid: report.invalid,
    fileMB: Number((size / 1048576).toFixed(1)),
    seconds: Number(seconds.toFixed(1)),
    rowsPerSecond: Math.round(report.total / seconds),
    rssBeforeMB: Number((rssBefore / 1048576).toFixed(0)),
    peakRssMB: Number((peakRss / 1048576).toFixed(0)),
    maxRssMB: Number((process.resourceUsage().maxRSS / 1024).toFixed(0)),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  clearInterval(sampler);
  await rm(path, { force: true });
  await db.destroy();
  const admin = new URL(benchUrl);
  admin.pathname = '/postgres';
  const adminDb = createDb({ DATABASE_URL: admin.toString(), DATABASE_POOL_MAX: 1 });
  await adminDb.raw('DROP DATABASE IF EXISTS drumbeat_bench_import WITH (FORCE)');
  await adminDb.destroy();
}
