import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { convert } from 'html-to-text';
import { projectRoot } from '../support/engine.js';
import { resetDatabase, resetQueueStore, testEnv } from '../setup/hooks.js';
import { startSmtpServer, type SmtpHarness } from '../channels/smtp-harness.js';

/** The README's "Your first LIVE email campaign" commands: its second shell block. */
async function firstLiveCommands(): Promise<string> {
  const readme = await readFile(join(projectRoot, 'README.md'), 'utf8');
  const section = readme.split('\n## Your first LIVE email campaign\n')[1]?.split('\n## ')[0];
  if (section === undefined) throw new Error('the README has no "Your first LIVE email campaign" section');
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  expect(blocks, 'the catcher, then the commands').to.have.length(2);
  expect(blocks[0]).to.include('--smtp 1025');
  return blocks[1] ?? '';
}

describe('the README: your first LIVE email campaign, word for word', function () {
  this.timeout(120_000);
  let smtp: SmtpHarness;
  let dir: string;

  beforeEach(async () => {
    // The README's worker line describes this campaign alone: nothing another test left may wait beside it.
    await resetDatabase();
    await resetQueueStore();
    smtp = await startSmtpServer();
    // A checkout of our own: the README's files are written here, never into the repository.
    dir = await mkdtemp(join(tmpdir(), 'drumbeat-first-live-'));
    for (const entry of ['package.json', 'node_modules', 'src', 'queues', 'processors', 'migrations', 'tsconfig.json']) {
      await symlink(join(projectRoot, entry), join(dir, entry));
    }
  });

  afterEach(async () => {
    await smtp.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sends the first email and its threaded follow-up, names exactly as written, with no secret set', async () => {
    // The one change: the catcher's port (1025 in the README) is the in-test SMTP server's.
    const commands = (await firstLiveCommands()).replace('smtp://127.0.0.1:1025', smtp.url);
    const env = testEnv();
    delete env.SESSION_SECRET;
    delete env.UNSUBSCRIBE_SECRET;
    const shell = spawn('bash', ['-c', commands], { cwd: dir, env: { ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    shell.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    shell.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(shell, 'exit')) as [number | null];
    expect(code, `${stdout}\n${stderr}`).to.equal(0);

    expect(smtp.received, stdout).to.have.length(2);
    const [first, followUp] = smtp.received;
    expect(first?.subject).to.equal('Quick question, Seán');
    expect(first?.text).to.include('Hi Seán,\n\nhow is AT&T <Labs> handling outbound today?');
    expect(convert(String(first?.html), { wordwrap: false })).to.include('how is AT&T <Labs> handling outbound today?');
    expect(first?.headerLines.find((header) => header.key === 'list-unsubscribe')?.line).to.match(/^List-Unsubscribe:\s+<http:\/\/localhost:3000\/u\/[\w-]+>/);
    expect(followUp?.subject).to.equal('Re: Quick question, Seán');
    expect(followUp?.inReplyTo).to.equal(first?.messageId);
    expect(followUp?.text).to.include('Hi Seán, just bumping this up.');
    expect(stdout).to.match(/^sent 1 this run; waiting: 1 lead\(s\) of campaign \d+ on a step delay/m);
    expect(stdout).to.match(/^\| sent \| 2 \|$/m);
  });
});
