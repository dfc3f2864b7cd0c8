import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'chai';

/** Debian's Chromium, as CI installs it (`.ci/run`); playwright cannot download browsers here. */
const chromiumPath = '/usr/bin/chromium';

/** Starts headless Chromium the way this machine allows (no sandbox as root, no network chatter). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

let axeSource: string | undefined;

/** The impact levels an accessibility check refuses. */
const refusedImpacts = new Set(['serious', 'critical']);

/**
 * Runs axe-core in the page and fails with each serious or critical violation (rule, impact,
 * what it says and the first elements it names).
 */
export async function expectNoSeriousA11yViolations(page: Page, what: string): Promise<void> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through the debugging protocol: the page's Content-Security-Policy (no inline
  // scripts) stays as users get it.
  await page.evaluate(axeSource);
  // An expression string: the page's own globals (axe, document) are not Node's.
  const violations = (await page.evaluate('axe.run(document).then((result) => result.violations)')) as Array<{
    id: string;
    impact: string | null;
    help: string;
    nodes: Array<{ target: string[] }>;
  }>;
  const refused = violations
    .filter((violation) => refusedImpacts.has(violation.impact ?? ''))
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes.slice(0, 3).map((node) => node.target.join(' ')).join(', ')}`);
  expect(refused, `accessibility of ${what}`).to.deep.equal([]);
}

/**
 * Takes one of the README's screenshots. The committed PNGs change only when asked
 * (`UPDATE_SCREENSHOTS=1 npx mocha …`): a plain test run takes it into a temporary file and
 * removes it, so the suite leaves the checkout as it found it.
 */
export async function takeReadmeScreenshot(page: Page, projectRoot: string, name: string): Promise<void> {
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    await page.screenshot({ path: `${projectRoot}docs/screenshots/${name}.png` });
    return;
  }
  const directory = await mkdtemp(join(tmpdir(), 'drumbeat-screenshot-'));
  try {
    const image = await page.screenshot({ path: join(directory, `${name}.png`) });
    expect(image.length, `${name} screenshot`).to.be.greaterThan(1000);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
