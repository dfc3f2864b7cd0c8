import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { importLeadsCsv, type ImportOptions, type ImportReport } from '../../src/leads/lead-import.js';
import { parseColumnMap } from '../../src/leads/lead-row.js';
import { writeLeadsCsv, csvCell } from '../../src/leads/lead-export.js';
import { suppress } from '../../src/suppression/suppression-service.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, runDrumbeat, seedCampaign } from '../support/engine.js';
import { clockNow } from '../support/clock.js';

const messyCsv = fileURLToPath(new URL('./fixtures/leads-messy.csv', import.meta.url));

describe('streaming lead import', function () {
  this.timeout(30_000);
  let ctx: AppContext;
  let campaignId: number;
  let dir: string;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    ctx = engineContext({ clock: clockNow() });
    ({ campaignId } = await seedCampaign(ctx, { leads: [], start: false }));
    dir = await mkdtemp(join(tmpdir(), 'drumbeat-import-'));
  });

  afterEach(async () => {
    await ctx.close();
    await rm(dir, { recursive: true, force: true });
  });

  function run(options: Partial<ImportOptions> & { path: string }): Promise<ImportReport> {
    return importLeadsCsv(ctx, { campaignId, fileName: 'test.csv', createdBy: 'test', ...options });
  }

  async function lead(email: string): Promise<Record<string, unknown> | undefined> {
    return (await ctx.db('leads').where({ email }).first()) as Record<string, unknown> | undefined;
  }

  it('imports the messy fixture with exact counts and line-numbered errors; the good rows land', async () => {
    const report = await run({ path: messyCsv });
    if (report.outcome !== 'imported') throw new Error('expected an import');
    expect({ total: report.total, imported: report.imported, duplicates: report.duplicates, invalid: report.invalid, suppressed: report.suppressed }).to.deep.equal({
      total: 18,
      imported: 13,
      duplicates: 2,
      invalid: 3,
      suppressed: 0,
    });
    expect(report.errors.map((error) => error.line)).to.deep.equal([5, 6, 18]);
    expect(report.errors[0]?.reason).to.match(/^email: not a valid email address/);
    expect(report.errors[1]?.reason).to.match(/^email: email is missing/);
    expect(report.errors[2]?.reason).to.match(/^first_name: first name may not contain line breaks/);

    const batch = (await ctx.db('import_batches').first()) as Record<string, unknown>;
    expect(batch).to.include({ status: 'DONE', total: 18, imported: 13, duplicates: 2, invalid: 3, suppressed: 0, created_by: 'test' });
    expect(batch.file_hash).to.match(/^[0-9a-f]{64}$/);
    expect((batch.errors as unknown[]).length).to.equal(3);

    const enrolled = (await ctx.db('campaign_leads').where({ campaign_id: campaignId, import_batch_id: batch.id as number }).count('* as n')) as Array<{ n: number }>;
    expect(enrolled[0]?.n).to.equal(13);
  });

  it('normalises values: trimmed, emails lower-cased, identity hash stored, quoted newlines folded, unicode kept, custom fields and attribution kept', async () => {
    await run({ path: messyCsv, attribution: { source: 'crm-export', consent: 'GRANTED' } });
    expect(await lead('spaces@padded.example')).to.include({ first_name: 'Padded', last_name: 'Name', company: 'Padded Co' });
    expect(await lead('multi@line.example')).to.include({ company: 'Company with newline' });
    expect(await lead('grace.hopper@navy.example')).to.include({ company: 'US Navy, Computing Div.', utm_source: 'newsletter', utm_campaign: 'q4-launch' });
    expect(await lead('linus@kernel.example')).to.include({ company: 'Linux "Kernel" Org' });
    expect(await lead('josé@unicode.example')).to.include({ first_name: 'José', last_name: 'Núñez' });
    expect(await lead('ming@中文.example')).to.include({ first_name: '明' });
    const ada = await lead('ada@example.com');
    expect(ada).to.include({ linkedin_id: 'https://www.linkedin.com/in/ada', utm_source: 'linkedin', source: 'crm-export', consent: 'GRANTED' });
    expect(ada?.identity_hash).to.match(/^[0-9a-f]{64}$/);
    expect(ada?.custom).to.deep.equal({ Title: 'CTO', Country: 'GB' });
    expect(await lead('dup@dupe.example'), 'the later row of a duplicate wins').to.include({ first_name: 'Second' });
  });

  it('stores SQL-looking text literally and refuses CR/LF in names', async () => {
    await run({ path: messyCsv });
    expect(await lead('eve@evil.example')).to.include({ last_name: "'; DROP TABLE leads; --" });
    expect(await ctx.db('leads').count('* as n')).to.deep.equal([{ n: 13 }]);
    expect(await lead('mallory@evil.example')).to.equal(undefined);
  });

  it('stores a formula cell literally and neutralises it on export', async () => {
    await run({ path: messyCsv });
    expect(await lead('margaret@apollo.example')).to.include({ company: '=HYPERLINK("http://evil.example")' });
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    expect(await writeLeadsCsv(ctx.db, campaignId, out)).to.equal(13);
    const csv = Buffer.concat(chunks).toString('utf8');
    expect(csv).to.include(`"'=HYPERLINK(""http://evil.example"")"`);
    expect(csv).not.to.match(/(^|,)=HYPERLINK/m);
    const [header, first] = csv.split('\r\n') as [string, string];
    expect(header, 'steps are 1-based in the export').to.include(',state,step,enrolled_at,custom');
    expect(first).to.include(',NEW,1,');
    for (const dangerous of ['+1', '-1', '@SUM(A1)', '\tx']) expect(csvCell(dangerous).replace(/^"/, '')).to.match(/^'/);
  });

  it('reports a re-import of the same content and does nothing unless forced; dedups across campaigns by identity', async () => {
    await run({ path: messyCsv });
    const again = await run({ path: messyCsv });
    expect(again.outcome).to.equal('already-imported');
    expect(await ctx.db('import_batches').count('* as n')).to.deep.equal([{ n: 1 }]);
    const forced = await run({ path: messyCsv, force: true });
    expect(forced).to.include({ outcome: 'imported', imported: 0, duplicates: 15, invalid: 3 });

    const other = await seedCampaign(ctx, { leads: [], start: false });
    const second = await importLeadsCsv(ctx, { campaignId: other.campaignId, path: messyCsv, fileName: 'x.csv', createdBy: 'test' });
    expect(second).to.include({ imported: 13 });
    expect(await ctx.db('leads').count('* as n'), 'one lead per person across campaigns').to.deep.equal([{ n: 13 }]);
  });

  it('counts and skips suppressed addresses, domains and identities (global or for the campaign)', async () => {
    await suppress(ctx.db, 'ken@bell.example');
    await suppress(ctx.db, '@evil.example', { campaignId });
    const report = await run({ path: messyCsv });
    expect(report).to.include({ imported: 11, suppressed: 2, invalid: 3, duplicates: 2 });
    expect(await lead('ken@bell.example')).to.equal(undefined);
  });

  it('detects ; and tab delimiters, CRLF line ends, and maps headers by --map', async () => {
    const semicolon = join(dir, 'semi.csv');
    await writeFile(semicolon, 'E-mail;Given Name;Mail Addr Notes\r\nA@X.example;Anna;"a; b"\r\nbad;Bob;\r\n');
    const report = await run({ path: semicolon });
    expect(report).to.include({ total: 2, imported: 1, invalid: 1 });
    expect(await lead('a@x.example')).to.include({ first_name: 'Anna' });
    expect((await lead('a@x.example'))?.custom).to.deep.equal({ 'Mail Addr Notes': 'a; b' });

    const tabbed = join(dir, 'tab.tsv');
    await writeFile(tabbed, 'Contact\tVorname\tignored\nt@x.example\tTina\tzzz\n');
    const mapped = await run({ path: tabbed, columnMap: parseColumnMap(['Contact=email', 'Vorname=first_name', 'ignored=-']) });
    expect(mapped).to.include({ imported: 1 });
    expect(await lead('t@x.example')).to.include({ first_name: 'Tina' });
    expect((await lead('t@x.example'))?.custom).to.deep.equal({});
  });

  it('`drumbeat leads import` prints the counts and line errors; `leads imports` lists the batch and its error report', async () => {
    const imported = await runDrumbeat(['leads', 'import', String(campaignId), messyCsv]);
    expect(imported.stderr).to.equal('');
    expect(imported.code).to.equal(0);
    expect(imported.stdout).to.match(/imported 13, duplicates 2, invalid 3, suppressed 0 \(of 18 rows\)/);
    expect(imported.stdout).to.include('line 18: first_name: first name may not contain line breaks');
    const list = await runDrumbeat(['leads', 'imports', String(campaignId)]);
    expect(list.stdout, 'the batch names who imported it').to.include(`\tDONE\t18\t13\t2\t3\t0\tcli:${userInfo().username}\t`);
    const batchId = /^(\d+)\tDONE/m.exec(list.stdout)?.[1] ?? '';
    const errors = await runDrumbeat(['leads', 'imports', String(campaignId), '--errors', batchId]);
    expect(errors.stdout.split('\r\n').slice(0, 2)).to.deep.equal(['line,reason', '5,email: not a valid email address']);
  });
});
