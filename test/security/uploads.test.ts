import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { bindProcessor } from '../../src/jobs/processor.js';
import reconcileProcessor from '../../processors/reconcile.js';
import type { RunningApp } from '../http/http-harness.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { clockNow, type AnchoredClock } from '../support/clock.js';
import { engineContext, eventually, seedCampaign } from '../support/engine.js';
import { bearerFor, startApiApp } from './security-support.js';

const boundary = 'drumbeat-test-boundary';

function multipartHead(fileName: string): string {
  return `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: text/csv\r\n\r\n`;
}

describe('security: uploads leave nothing behind', function () {
  this.timeout(30_000);
  let ctx: AppContext;
  let app: RunningApp;
  let clock: AnchoredClock;
  let uploadDir: string;
  let authorization: string;
  let campaignId: number;

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    uploadDir = await mkdtemp(join(tmpdir(), 'drumbeat-uploads-'));
    clock = clockNow();
    ctx = engineContext({ clock, env: { IMPORT_UPLOAD_DIR: uploadDir, IMPORT_MAX_BYTES: '4kb' } });
    app = await startApiApp(ctx);
    ({ authorization } = await bearerFor(ctx, 'operator'));
    ({ campaignId } = await seedCampaign(ctx, { leads: [] }));
  });

  afterEach(async () => {
    await app.close();
    await ctx.close();
    await rm(uploadDir, { recursive: true, force: true });
  });

  const importsUrl = () => new URL(app.url(`/api/campaigns/${campaignId}/imports`));

  it('removes the partial file when the client goes away mid-body', async () => {
    const url = importsUrl();
    const client = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: { authorization, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
    });
    client.on('error', () => undefined);
    client.write(multipartHead('Seán’s leads.csv'));
    client.write('email,first_name\r\nsean@example.com,Seán\r\n'.repeat(20));
    await eventually(async () => (await readdir(uploadDir)).length === 1, 'the upload to start writing its file');
    client.destroy();
    await eventually(async () => (await readdir(uploadDir)).length === 0, 'the partial file to be removed');
    expect(await ctx.db('import_batches').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('answers 413 as soon as a file passes IMPORT_MAX_BYTES, without reading the rest, and keeps nothing', async () => {
    const url = importsUrl();
    const client = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: { authorization, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
    });
    client.on('error', () => undefined);
    const answered = once(client, 'response') as Promise<[IncomingMessage]>;
    client.write(multipartHead('big.csv'));
    // Past the 4 kB limit, and the body never ends: the answer cannot wait for it.
    client.write(`email\r\n${'rin@example.jp\r\n'.repeat(400)}`);
    const [response] = await answered;
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    expect(response.statusCode).to.equal(413);
    expect(response.headers.connection).to.equal('close');
    expect(JSON.parse(Buffer.concat(chunks).toString())).to.deep.equal({ error: 'the file is larger than the limit of 4096 bytes' });
    client.destroy();
    expect(await readdir(uploadDir)).to.deep.equal([]);
  });

  it('answers 400 to a multipart body that ends inside its file, and removes the partial file', async () => {
    const body = `${multipartHead('cut.csv')}email\r\nzoe@example.com\r\n`;
    const response = await fetch(importsUrl(), {
      method: 'POST',
      headers: { authorization, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expect(response.status).to.equal(400);
    expect(((await response.json()) as { error: string }).error).to.be.oneOf(['the multipart body could not be read', 'the upload ended before its file did']);
    expect(await readdir(uploadDir)).to.deep.equal([]);
  });

  it('removes the file of an upload whose form fields are refused', async () => {
    const form = new FormData();
    form.set('consent', 'MAYBE');
    form.set('file', new Blob(['email\r\nali@example.com\r\n']), 'ok.csv');
    const response = await fetch(importsUrl(), { method: 'POST', headers: { authorization }, body: form });
    expect(response.status).to.equal(400);
    expect(await readdir(uploadDir)).to.deep.equal([]);
  });

  it('sweeps upload files older than a day from the reconcile job, at most once an hour, and keeps everything else', async () => {
    const stale = `${randomUUID()}.csv`;
    const fresh = `${randomUUID()}.csv`;
    const notOurs = 'notes.csv';
    for (const name of [stale, fresh, notOurs]) await writeFile(join(uploadDir, name), 'email\r\n');
    const dayAndAnHourAgo = new Date(clock.now().getTime() - 25 * 3_600_000);
    await utimes(join(uploadDir, stale), dayAndAnHourAgo, dayAndAnHourAgo);
    await utimes(join(uploadDir, notOurs), dayAndAnHourAgo, dayAndAnHourAgo);

    const reconcile = bindProcessor(reconcileProcessor, ctx);
    const fakeJob = { data: {} } as Job;
    const first = (await reconcile(fakeJob)) as { housekeeping: { staleUploads: number } | null };
    expect(first.housekeeping).to.include({ staleUploads: 1 });
    expect((await readdir(uploadDir)).sort()).to.deep.equal([fresh, notOurs].sort());

    clock.advance(59 * 60_000);
    expect(((await reconcile(fakeJob)) as { housekeeping: unknown }).housekeeping, 'not again within the hour').to.equal(null);
    clock.set(clock.after(25 * 3_600_000));
    expect(((await reconcile(fakeJob)) as { housekeeping: unknown }).housekeeping).to.include({ staleUploads: 1 });
    expect(await readdir(uploadDir)).to.deep.equal([notOurs]);
  });
});
