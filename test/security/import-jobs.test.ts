import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { importLeadsQueue } from '../../queues/import-leads.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, seedCampaign } from '../support/engine.js';

describe('security: import jobs name an upload by id, never a path', function () {
  this.timeout(30_000);
  let ctx: AppContext;
  let workers: RunningWorkers;
  let root: string;
  let uploadDir: string;
  let secretPath: string;
  let campaignId: number;
  const secret = 'email,first_name\r\nvictim@example.com,Seán\r\nboss@example.com,Zoë\r\n';

  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    root = await mkdtemp(join(tmpdir(), 'drumbeat-import-jobs-'));
    uploadDir = join(root, 'uploads');
    await mkdir(uploadDir);
    await mkdir(join(root, 'secrets'));
    // A CSV-shaped file outside the upload directory: what an attacker would point a job at.
    secretPath = join(root, 'secrets', 'leads.csv');
    await writeFile(secretPath, secret);
    ctx = engineContext({ env: { IMPORT_UPLOAD_DIR: uploadDir } });
    ({ campaignId } = await seedCampaign(ctx, { leads: [] }));
    workers = await startWorkers(ctx, undefined, { schedule: false });
  });

  afterEach(async () => {
    await workers.close();
    await ctx.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Adds job data as Bull Board or anyone with Redis access could: unchecked. */
  async function addRaw(data: Record<string, unknown>): Promise<Job> {
    return ctx.queues.get(importLeadsQueue).add(importLeadsQueue.jobName, { campaignId, fileName: 'leads.csv', createdBy: null, ...data });
  }

  async function failedReason(job: Job): Promise<string> {
    const queue = ctx.queues.get(importLeadsQueue);
    // The state first: a job read before it failed has no failure reason yet.
    await eventually(async () => (await queue.getJobState(job.id ?? '')) === 'failed', `job ${job.id} to fail`);
    return (await queue.getJob(job.id ?? ''))?.failedReason ?? '';
  }

  it('fails a job carrying a path or a path-like upload id without reading or deleting the file', async () => {
    const attacks: Array<Record<string, unknown>> = [
      { path: secretPath },
      { uploadId: secretPath },
      { uploadId: '../secrets/leads' },
      { uploadId: `${randomUUID()}/../../secrets/leads` },
      { uploadId: '../../etc/passwd' },
      { uploadId: '/etc/passwd' },
    ];
    for (const attack of attacks) {
      const reason = await failedReason(await addRaw(attack));
      expect(reason, JSON.stringify(attack)).to.match(/^invalid job data for import-leads: /);
      for (const line of [...secret.split('\r\n').filter((entry) => entry !== ''), 'root:']) {
        expect(reason, `${JSON.stringify(attack)} leaks "${line}"`).not.to.include(line);
      }
    }
    expect(readFileSync(secretPath, 'utf8'), 'the file is neither deleted nor changed').to.equal(secret);
    expect(existsSync('/etc/passwd')).to.equal(true);
    expect(await ctx.db('import_batches').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    expect(await ctx.db('leads').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('imports an upload named by its id from the upload directory, then removes it', async () => {
    const uploadId = randomUUID();
    await writeFile(join(uploadDir, `${uploadId}.csv`), 'Email,First Name,Company\r\nsean@example.com,Seán O’Brien,AT&T <Labs>\r\nrin@example.jp,林 凛,株式会社\r\n');
    const job = await ctx.queues.get(importLeadsQueue).add(
      importLeadsQueue.jobName,
      importLeadsQueue.schema.parse({ campaignId, uploadId, fileName: 'crm.csv', createdBy: 'api' }),
    );
    const batch = await eventually(
      async () => (await ctx.db('import_batches').where({ status: 'DONE' }).first()) as Record<string, unknown> | undefined,
      'the import to finish',
    );
    expect(batch).to.include({ file_name: 'crm.csv', total: 2, imported: 2 });
    expect((await ctx.db('leads').orderBy('email').pluck('first_name')) as string[]).to.deep.equal(['林 凛', 'Seán O’Brien']);
    expect(await readdir(uploadDir)).to.deep.equal([]);
    expect(await (await ctx.queues.get(importLeadsQueue).getJob(job.id ?? ''))?.getState()).to.equal('completed');
  });

  it('fails an upload id whose file is not there with a sentence that names only the id', async () => {
    const uploadId = randomUUID();
    const reason = await failedReason(await addRaw({ uploadId }));
    expect(reason).to.equal(`upload ${uploadId} is not in the upload directory (already imported, or removed after a day)`);
  });
});
