import type { Server } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import type { AppContext } from '../../src/runtime/context.js';
import { buildHttpApp } from '../../src/runtime/processes.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { addOperator } from '../../src/operators/operator-service.js';
import type { Role } from '../../src/operators/roles.js';
import { resetDatabase, resetQueueStore, testDb } from '../setup/hooks.js';
import { engineContext } from '../support/engine.js';
import { clockNow } from '../support/clock.js';
import { freePort } from '../support/private-redis.js';

/** The passphrase of every operator a console test creates. */
export const PASSPHRASE = 'a long enough passphrase';

/** Phone and desktop widths every page is checked at. */
export const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;

/** The api process as the browser meets it, the engine behind it, and its workers when started. */
export interface RunningConsole {
  ctx: AppContext;
  url(path: string): string;
  /** Starts every worker in this process (no schedulers: tests tick campaigns themselves). */
  startWorkers(): Promise<void>;
  /** Adds an operator with this role and signs them in through the login page. */
  signIn(browser: Browser, role: Role, viewport?: { width: number; height: number }): Promise<{ page: Page; context: BrowserContext; email: string }>;
  close(): Promise<void>;
}

/**
 * Starts the real HTTP app of the api process ({@link buildHttpApp}: console, API, Bull Board)
 * on an empty database and queue prefix, on a free port that is also its PUBLIC_URL (sign-in
 * refuses any other origin).
 */
export async function startConsole(): Promise<RunningConsole> {
  await resetDatabase();
  await resetQueueStore();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const ctx = engineContext({ env: { PUBLIC_URL: base }, db: testDb(), clock: clockNow() });
  const server: Server = await new Promise((resolve, reject) => {
    const listening = buildHttpApp(ctx).listen(port, '127.0.0.1', (error?: Error) => (error === undefined ? resolve(listening) : reject(error)));
  });
  let workers: RunningWorkers | undefined;
  const contexts: BrowserContext[] = [];
  return {
    ctx,
    url: (path) => `${base}${path}`,
    async startWorkers() {
      workers = await startWorkers(ctx, undefined, { schedule: false });
    },
    async signIn(browser, role, viewport = VIEWPORTS[0]) {
      const email = `${role}@example.com`;
      if ((await ctx.db('operators').where({ email }).first()) === undefined) await addOperator(ctx.db, email, PASSPHRASE, { role });
      const context = await browser.newContext({ viewport });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${base}/admin/login`);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSPHRASE);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${base}/admin`);
      return { page, context, email };
    },
    async close() {
      for (const context of contexts) await context.close();
      await workers?.close();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      });
      await ctx.close();
    },
  };
}

/** What a browser test of the console works with: one Chromium, and a fresh console for each test. */
export interface ConsoleSession {
  browser: Browser;
  app: RunningConsole;
}

/**
 * Registers, in the calling `describe`, the hooks every console test needs: Chromium launched once,
 * a console (api, workers, empty database and queues) started before each test and closed after it.
 * The session's fields are set by those hooks, so read them inside a test, not at `describe` time.
 */
export function consoleSession(): ConsoleSession {
  const session = {} as ConsoleSession;
  before(async () => {
    session.browser = await launchChromium();
  });
  after(async () => {
    await session.browser.close();
  });
  beforeEach(async () => {
    session.app = await startConsole();
  });
  afterEach(() => session.app.close());
  return session;
}
