import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppContext } from '../../src/runtime/context.js';
import { freshEngine, makeLeads, runDrumbeat, seedCampaign } from '../support/engine.js';
import { clockNow } from '../support/clock.js';

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
    expect((await runDrumbeat(['campaign', 'start', 'abc'])).code).to.equal(1);
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
    const due = ((await ctx.db('campaign_leads').where({ state: 'ACTIVE' }).first('next_action_at')) as { next_action_at: Date }).next_action_at;
    expect(worker.stdout, 'one summary line: what it sent, what waits and until when').to.equal(
      `sent 1 this run, skipped 1; waiting: 1 lead(s) of campaign ${id} on a step delay, the next due ${due.toISOString().replace(/\.\d{3}Z$/, 'Z')}\n`,
    );

    const shown = await runDrumbeat(['leads', 'show', 'ada@example.org']);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.stdout, 'steps are 1-based').to.include(`campaign ${id} "CLI launch": ACTIVE at step 2 of 2`).and.match(/message \d+ c\d+ step 1 email: SENT_PROOF/);

    const report = await runDrumbeat(['report', id, '--format', 'json']);
    expect(report.code).to.equal(0);
    const parsed = JSON.parse(report.stdout) as { campaign: { status: string }; totals: Record<string, number>; skipReasons: unknown[] };
    expect(parsed.campaign.status).to.equal('ACTIVE');
    expect(parsed.totals).to.include({ leads: 2, messages: 2, sentProof: 1, skipped: 1 });
    expect(parsed.skipReasons).to.deep.equal([{ reason: 'suppressed', count: 1 }]);
    const csvReport = await runDrumbeat(['report', id, '--format', 'csv']);
    expect(csvReport.stdout.split('\n')[0]).to.equal(
      'scope,step,channel,reason,messages,planned,pendingReview,rejected,queued,sending,sent,sentProof,failed,dead,skipped,unknown,day,variant,angle,segment,source,utm_source,utm_campaign,sends,delivered,opened,clicked,replied,bounced_hard,bounced_soft,complained,unsubscribed,leads,reply_rate,reply_rate_low,reply_rate_high,text',
    );

    expect((await runDrumbeat(['kill', 'on'])).stdout).to.include('ON');
    expect((await runDrumbeat(['kill', 'status'])).stdout).to.include('ON');
    const killed = await runDrumbeat(['worker', '--until-idle']);
    expect(killed.code, killed.stderr).to.equal(0);
    expect(killed.stdout).to.match(/^kill switch is ON: nothing is sent until "drumbeat kill off"; sent 0 this run; waiting: 1 lead\(s\) of campaign \d+ on a step delay, the next due \S+Z\n$/);
    expect((await runDrumbeat(['kill', 'off'])).stdout).to.include('off');
  });

  it('worker --until-idle says what waits for a send window, a daily cap and review, and until when', async () => {
    const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
    const clock = clockNow();
    const otherDay = weekdays[(clock.now().getUTCDay() + 3) % 7] ?? 'mon';
    const windowed = await seedCampaign(ctx, { leads: makeLeads(2, 'window'), spec: { sendWindow: { days: [otherDay], start: '09:00', end: '17:00' } } });
    const capped = await seedCampaign(ctx, { leads: makeLeads(3, 'cap'), spec: { dailyCap: 1 } });
    await seedCampaign(ctx, { leads: makeLeads(1, 'review'), spec: { requireReview: true } });
    const worker = await runDrumbeat(['worker', '--until-idle']);
    expect(worker.code, worker.stderr).to.equal(0);
    const line = /^sent 1 this run; waiting: 2 of campaign (\d+) outside its send window until (\S+); 2 of campaign (\d+) held by a daily cap until (\S+); 1 waiting for review \(drumbeat review list\)\n$/.exec(worker.stdout);
    expect(line, worker.stdout).to.not.equal(null);
    const [, windowCampaign, opens, capCampaign, resets] = line as unknown as [string, string, string, string, string];
    expect(Number(windowCampaign)).to.equal(windowed.campaignId);
    expect(opens).to.match(/T09:00:00Z$/);
    expect(weekdays[new Date(opens).getUTCDay()], 'the window opens on its day').to.equal(otherDay);
    expect(Number(capCampaign)).to.equal(capped.campaignId);
    expect(resets, 'the cap resets at the next UTC midnight').to.match(/T00:00:00Z$/);
    expect(new Date(resets).getTime() - clock.now().getTime()).to.be.within(0, 24 * 3600_000);
  });

  it('says every failure in one line on stderr with a non-zero exit', async function () {
    this.timeout(240_000);
    const oneLine = async (args: string[], expected: string) => {
      const result = await runDrumbeat(args);
      expect(result.code, args.join(' ')).to.equal(1);
      expect(result.stdout, args.join(' ')).to.equal('');
      expect(result.stderr, args.join(' ')).to.equal(`drumbeat: ${expected}\n`);
    };
    await oneLine(['campaign', 'show', 'abc'], '"abc" is not an id (ids are positive whole numbers)');
    await oneLine(['campaign', 'start', '12x'], '"12x" is not an id (ids are positive whole numbers)');
    await oneLine(['messages', 'dead', '--campaign', 'seven'], '"seven" is not an id (ids are positive whole numbers)');
    await oneLine(['campaign', 'show', '4242'], 'campaign 4242 does not exist');
    await oneLine(['leads', 'show', 'nobody@example.com'], 'no lead with the address nobody@example.com');
    await oneLine(['campaign', 'frobnicate'], "unknown command 'frobnicate' (run with --help for usage)");
    await oneLine(['report', '1', '--colour'], "unknown option '--colour' (run with --help for usage)");

    const spec = join(dir, 'campaign.yaml');
    const write = (name: string, slug: string) =>
      writeFile(spec, [`name: ${name}`, `slug: ${slug}`, 'from: { name: Ada, email: ada@example.com }', 'steps:', '  - channel: email', '    subject: Hello', '    body: Hi', ''].join('\n'));
    await write("Seán's launch", 'launch');
    const first = await runDrumbeat(['campaign', 'create', spec]);
    expect(first.code, first.stderr).to.equal(0);
    const firstId = Number(first.stdout.trim().split('\n').at(-1));
    await oneLine(['campaign', 'create', spec], `a campaign named "Seán's launch" already exists (campaign ${firstId}); choose another name`);
    await write('Another launch', 'launch');
    await oneLine(['campaign', 'create', spec], `the slug "launch" is already used by campaign ${firstId}; choose another slug`);
    await write('Another launch', 'another-launch');
    const next = await runDrumbeat(['campaign', 'create', spec]);
    expect(Number(next.stdout.trim().split('\n').at(-1)), 'the refused creates used up no id').to.equal(firstId + 1);

    const csv = join(dir, 'leads.csv');
    await writeFile(csv, 'E-mail,First Name\nsean@example.ie,Seán\n');
    await oneLine(['leads', 'import', String(firstId), csv, '--map', 'Emial=email'], '--map names a column the file does not have (emial); its columns are: E-mail, First Name');
    expect(await ctx.db('leads').count('* as n')).to.deep.equal([{ n: 0 }]);
  });

  it('writes human output to stdout and its JSON log lines to stderr', async () => {
    const spec = join(dir, 'campaign.yaml');
    await writeFile(spec, ['name: Logged', 'slug: logged', 'from: { name: Ada, email: ada@example.com }', 'steps:', '  - channel: email', '    subject: Hello', '    body: Hi', ''].join('\n'));
    const id = (await runDrumbeat(['campaign', 'create', spec])).stdout.trim().split('\n').at(-1) ?? '';
    expect((await runDrumbeat(['campaign', 'approve', id])).code).to.equal(0);
    const started = await runDrumbeat(['campaign', 'start', id], { LOG_LEVEL: 'info' });
    expect(started.code, started.stderr).to.equal(0);
    expect(started.stdout).to.equal(`campaign ${id} is ACTIVE\n`);
    const logged = started.stderr.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; campaignId: number });
    expect(logged.filter((line) => line.msg === 'campaign started').map((line) => line.campaignId)).to.deep.equal([Number(id)]);
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
