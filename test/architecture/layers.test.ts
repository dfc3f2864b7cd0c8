import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { projectRoot } from '../support/engine.js';

const depcruise = join(projectRoot, 'node_modules', '.bin', 'depcruise');

/** Runs dependency-cruiser with our config over a tree; resolves with its exit code and report. */
function cruise(root: string): Promise<{ code: number; report: string }> {
  return new Promise((resolve) => {
    execFile(depcruise, ['--config', '.dependency-cruiser.cjs', 'src', 'queues', 'processors'], { cwd: root }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, report: `${stdout}${stderr}` });
    });
  });
}

/** A tiny tree: one module per area named, each exporting a type, importing as `imports` says. */
async function plantTree(root: string, imports: Record<string, string[]>): Promise<void> {
  await copyFile(join(projectRoot, '.dependency-cruiser.cjs'), join(root, '.dependency-cruiser.cjs'));
  for (const area of ['src', 'queues', 'processors']) await mkdir(join(root, area), { recursive: true });
  await writeFile(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
  for (const [file, targets] of Object.entries(imports)) {
    const lines = targets.map((target, index) => `import type { Thing as Thing${index} } from '${relativeImport(file, target)}';`);
    lines.push(`export type Thing = ${targets.length === 0 ? 'string' : targets.map((_, index) => `Thing${index}`).join(' | ')};`);
    await mkdir(join(root, dirname(file)), { recursive: true });
    await writeFile(join(root, file), `${lines.join('\n')}\n`);
  }
}

function relativeImport(from: string, to: string): string {
  const up = from.split('/').length - 1;
  return `${'../'.repeat(up)}${to.replace(/\.ts$/, '.js')}`;
}

describe('layers', function () {
  // One cruise of the real tree takes about 4 s on an idle machine; a loaded one is slower.
  this.timeout(60_000);
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'drumbeat-layers-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('the real tree has no import going the wrong way and no cycle', async () => {
    const { code, report } = await cruise(projectRoot);
    expect(report).to.include('no dependency violations found');
    expect(code).to.equal(0);
  });

  it('a tree whose imports follow the layers passes', async () => {
    await plantTree(root, {
      'src/core/clock.ts': [],
      'src/jobs/queue-definition.ts': ['src/core/clock.ts'],
      'queues/send-email.ts': ['src/jobs/queue-definition.ts'],
      'src/messages/send-route.ts': ['src/core/clock.ts', 'src/jobs/queue-definition.ts'],
      'processors/send-email.ts': ['queues/send-email.ts', 'src/messages/send-route.ts'],
    });
    const { code, report } = await cruise(root);
    expect(report).to.include('no dependency violations found');
    expect(code).to.equal(0);
  });

  it('fails on a domain area importing one above it, naming the rule (a type-only import counts)', async () => {
    await plantTree(root, {
      'src/orchestration/tick-service.ts': [],
      'src/messages/send-route.ts': ['src/orchestration/tick-service.ts'],
    });
    const { code, report } = await cruise(root);
    expect(code).to.not.equal(0);
    expect(report).to.include('layers: src/messages (domain) imports upward');
    expect(report).to.include('src/messages/send-route.ts → src/orchestration/tick-service.ts');
  });

  it('fails on the core importing the app, a queue importing a domain area, and a cycle', async () => {
    await plantTree(root, {
      'src/config/config.ts': [],
      'src/core/clock.ts': ['src/config/config.ts'],
      'src/messages/send-route.ts': ['src/messages/send-gates.ts'],
      'src/messages/send-gates.ts': ['src/messages/send-route.ts'],
      'queues/send-email.ts': ['src/messages/send-route.ts'],
    });
    const { code, report } = await cruise(root);
    expect(code).to.not.equal(0);
    expect(report).to.include('core-imports-nothing-of-the-app: src/core/clock.ts → src/config/config.ts');
    expect(report).to.include('queues-import-only-jobs-and-core: queues/send-email.ts → src/messages/send-route.ts');
    expect(report).to.include('no-circular');
  });
});
