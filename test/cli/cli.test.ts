import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppContext } from '../../src/runtime/context.js';
import { freshEngine, runDrumbeat } from '../support/engine.js';

describe('drumbeat CLI', function () {
  this.timeout(120_000);
  const engine = freshEngine();
  let ctx: AppContext;
  let dir: string;

  beforeEach(async () => {
    ctx = engine.ctx;
    dir = await mkdtemp(join(tmpdir(), 'drumbeat-cli-'));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('lists its commands with --help', async () => {
    const help = await runDrumbeat(['--help']);
    expect(help.code).to.equal(0);
    for (const command of ['migrate', 'preflight', 'api', 'worker', 'operator', 'token', 'campaign', 'leads', 'suppress', 'kill', 'tick', 'report', 'demo', 'messages']) {
      expect(help.stdout, command).to.include(command);
    }
  });

  it('refuses an invalid spec with one line naming the field, and a bad command with a non-zero exit', async () => {
    const spec = join(dir, 'bad.yaml');
    await writeFile(spec, 'name: Bad\nslug: Not A Slug\nsteps: []\n');
    const result = await runDrumbeat(['campaign', 'create', spec]);
    expect(result.code).to.equal(1);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.include('slug');
    expect(result.stderr).to.include('steps');
    expect((await runDrumbeat(['campaign', 'start', 'abc'])).code).to.not.equal(0);
    expect((await runDrumbeat(['kill', 'maybe'])).stderr).to.include('kill takes on, off or status');
  });

  it('runs a campaign from the command line: create, import, approve, start, worker --until-idle, report', async () => {
    const spec = join(dir, 'campaign.yaml');
    await writeFile(
      spec,
      [
        'name: CLI launch',
        'slug: cli-launch',
        'mode: PROOF',
        'timezone: Europe/London',
        'tickEvery: 1s',
        'from: { name: Ada, email: ada@example.com }',
        'steps:',
        '  - channel: email',
        '    delay: 0s',
        '    subject: "Quick question, <%= it.lead.firstName %>"',
        '    body: "Hi <%= it.lead.firstName %>"',
        '  - channel: email',
        '    delay: 3d',
        '    body: "Following up"',
        '',
      ].join('\n'),
    );
    const created = await runDrumbeat(['campaign', 'create', spec]);
    expect(created.code, created.stderr).to.equal(0);
    const id = created.stdout.trim().split('\n').at(-1) ?? '';
    expect(id).to.match(/^\d+$/);

    const csv = join(dir, 'leads.csv');
    await writeFile(csv, 'Email,First Name,Company\nada@example.org,Ada,Acme\ngrace@example.org,Grace,Navy\nnot-an-email,X,Y\nADA@example.org,Ada,Acme\n');
    const imported = await runDrumbeat(['leads', 'import', id, csv]);
    expect(imported.code, imported.stderr).to.equal(0);
    expect(imported.stdout).to.match(/imported 2/);

    expect((await runDrumbeat(['campaign', 'start', id])).stderr, 'a DRAFT strategy cannot start').to.include('approve');
    expect((await runDrumbeat(['campaign', 'approve', id, '--note', 'ok'])).code).to.equal(0);
    expect((await runDrumbeat(['suppress', 'add', 'grace@example.org', '--reason', 'asked'])).code).to.equal(0);
    expect((await runDrumbeat(['campaign', 'start', id])).stdout).to.include('ACTIVE');

    const worker = await runDrumbeat(['worker', '--until-idle']);
    expect(worker.code, worker.stderr).to.equal(0);

    const report = await runDrumbeat(['report', id, '--format', 'json']);
    expect(report.code).to.equal(0);
    const parsed = JSON.parse(report.stdout) as { campaign: { status: string }; totals: Record<string, number> };
    expect(parsed.campaign.status).to.equal('ACTIVE');
    expect(parsed.totals).to.include({ leads: 2, messages: 2, sentProof: 1, skipped: 1 });
    const csvReport = await runDrumbeat(['report', id, '--format', 'csv']);
    expect(csvReport.stdout.split('\n')[0]).to.equal('scope,step,channel,messages,sent,sentProof,queued,pendingReview,skipped,failed,dead,unknown');

    expect((await runDrumbeat(['kill', 'on'])).stdout).to.include('ON');
    expect((await runDrumbeat(['kill', 'status'])).stdout).to.include('ON');
    expect((await runDrumbeat(['kill', 'off'])).stdout).to.include('off');
  });

  it('demo runs a campaign to completion and prints a report whose totals match the database', async () => {
    const demo = await runDrumbeat(['demo', '--leads', '60']);
    expect(demo.code, demo.stderr).to.equal(0);
    expect(demo.stdout).to.include('status COMPLETED');
    const campaign = (await ctx.db('campaigns').orderBy('id', 'desc').first('id')) as { id: number };
    const [{ count: sent }] = (await ctx.db('messages').where({ campaign_id: campaign.id, status: 'SENT_PROOF' }).count('* as count')) as [{ count: number }];
    const [{ count: ledgerRows }] = (await ctx.db('proof_deliveries as p').join('messages as m', 'm.id', 'p.message_id').where('m.campaign_id', campaign.id).count('* as count')) as [
      { count: number },
    ];
    expect(sent).to.equal(180);
    expect(ledgerRows).to.equal(180);
    expect(demo.stdout).to.match(/\| leads \| 60 \|/);
    expect(demo.stdout).to.match(/\| sentProof \| 180 \|/);
    expect(demo.stdout).to.match(/\| completed \| 60 \|/);
  });
});
