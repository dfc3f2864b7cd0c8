import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/log/logger.js';
import { createAppContext, type AppContext, type ContextOptions } from '../../src/runtime/context.js';
import type { RedisClient } from '../../src/redis/connection.js';
import { QUEUE_SCHEMA } from '../../src/jobs/queue-store.js';
import { parseCampaignSpec, type CampaignSpecInput } from '../../src/campaigns/campaign-spec.js';
import { upsertLeads, type NewLead } from '../../src/leads/lead-store.js';
import { enrollLeads } from '../../src/enrollments/enrollment-lifecycle.js';
import { resetDatabase, resetQueueStore, testConfig, testEnv } from '../setup/hooks.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { campaignTickQueue, tickSchedulerId } from '../../queues/campaign-tick.js';
import { clockNow } from './clock.js';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The Redis connection of a context whose queues are on Redis (a test of Redis itself). */
export function redisOf(ctx: AppContext): RedisClient {
  if (ctx.queueStore.kind !== 'redis') throw new Error('this test needs QUEUE_BACKEND=redis');
  return ctx.queueStore.redis;
}

/** A context on this run's database and queue prefix; close it in `afterEach`. */
export function engineContext(options: ContextOptions & { env?: Record<string, string> } = {}): AppContext {
  const config = testConfig(options.env);
  return createAppContext(config, createLogger(config), options);
}

/** A valid campaign spec with sensible test defaults, overridable field by field. */
export function specFor(overrides: Partial<CampaignSpecInput> = {}): CampaignSpecInput {
  return {
    name: `Test ${Math.random().toString(36).slice(2, 8)}`,
    slug: `test-${Math.random().toString(36).slice(2, 8)}`,
    mode: 'PROOF',
    timezone: 'UTC',
    tickEvery: '1s',
    from: { name: 'Ada', email: 'ada@example.com' },
    steps: [{ channel: 'email', delay: '0s', subject: 'Hello <%= it.lead.firstName %>', body: 'Hi <%= it.lead.firstName %>' }],
    ...overrides,
  };
}

/** `count` distinct leads with email and every social handle. */
export function makeLeads(count: number, prefix = 'lead'): NewLead[] {
  return Array.from({ length: count }, (_, index) => ({
    email: `${prefix}-${index}@example.com`,
    firstName: `First${index}`,
    lastName: `Last${index}`,
    company: 'Acme',
    linkedinId: `li-${prefix}-${index}`,
    xUserId: `x-${prefix}-${index}`,
    instagramUserId: `ig-${prefix}-${index}`,
  }));
}

/**
 * Creates a campaign with leads enrolled; approves and starts it unless told otherwise. Its tick
 * scheduler is removed unless `scheduled`, so that the test decides when ticks run.
 */
export async function seedCampaign(
  ctx: AppContext,
  options: { spec?: Partial<CampaignSpecInput>; leads?: NewLead[]; start?: boolean; scheduled?: boolean } = {},
): Promise<{ campaignId: number; leadIds: number[] }> {
  const spec = parseCampaignSpec(specFor(options.spec));
  const campaignId = await ctx.campaigns.create(spec);
  const leads = options.leads ?? makeLeads(5);
  const leadIds: number[] = [];
  for (let start = 0; start < leads.length; start += 1000) {
    const ids = await upsertLeads(ctx.db, leads.slice(start, start + 1000), ctx.clock.now());
    await enrollLeads(ctx.db, campaignId, [...ids.values()], spec.steps[0]?.delay ?? 0, ctx.clock.now());
    leadIds.push(...ids.values());
  }
  if (options.start !== false) {
    await ctx.campaigns.approve(campaignId, 'test', 'test');
    await ctx.campaigns.start(campaignId);
    // Tests drive ticks themselves (with their own clock) unless they ask for the scheduler.
    if (options.scheduled !== true) {
      const ticks = ctx.queues.get(campaignTickQueue);
      await ticks.removeJobScheduler(tickSchedulerId(campaignId));
      // The scheduler's next tick is already a delayed job; remove it too.
      await ticks.drain(true);
      if (ctx.queueStore.kind === 'postgres') {
        // BullMQ 6.7's Postgres backend adds a scheduler's first run as a waiting job, which neither
        // removing the scheduler, draining the queue nor Job#remove (it still names its scheduler) takes away.
        await ctx.db.raw(`DELETE FROM ${QUEUE_SCHEMA}.job WHERE queue = ? AND scheduler_id = ? AND state IN ('waiting', 'delayed')`, [
          campaignTickQueue.name,
          tickSchedulerId(campaignId),
        ]);
      }
    }
  }
  return { campaignId, leadIds };
}

/**
 * Polls a condition until it holds; fails with `what` after `timeoutMs`. Used where the event
 * is a row in Postgres written by another process, which has no event to subscribe to.
 */
export async function eventually<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Counts messages of a campaign by status. */
export async function statusCounts(ctx: AppContext, campaignId: number): Promise<Record<string, number>> {
  const rows = (await ctx.db('messages').where({ campaign_id: campaignId }).groupBy('status').select('status').count('* as count')) as Array<{
    status: string;
    count: number;
  }>;
  return Object.fromEntries(rows.map((row) => [row.status, row.count]));
}

/** Proof ledger rows of a campaign's messages, and how many distinct message keys they cover. */
export async function ledger(ctx: AppContext, campaignId: number): Promise<{ rows: number; distinct: number }> {
  const [row] = (await ctx.db('proof_deliveries as p')
    .join('messages as m', 'm.id', 'p.message_id')
    .where('m.campaign_id', campaignId)
    .select(ctx.db.raw('count(*)::int AS rows'), ctx.db.raw('count(DISTINCT p.idempotency_key)::int AS distinct'))) as Array<{
    rows: number;
    distinct: number;
  }>;
  return row ?? { rows: 0, distinct: 0 };
}

/** Spawns a `drumbeat` CLI process on this run's database and prefix. */
export function spawnDrumbeat(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], {
    cwd: projectRoot,
    env: testEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs a `drumbeat` CLI command to its end; resolves with its exit code and output. */
export async function runDrumbeat(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnDrumbeat(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Stops a spawned process (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit') as Promise<[number | null]>;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const [code] = await exited;
  clearTimeout(timer);
  return code;
}

/**
 * Registers hooks that give every test of the suite an empty database, an empty queue prefix
 * and a fresh context (built by `options`, called per test), and close its workers and context
 * afterwards.
 */
export function freshEngine(options: () => ContextOptions = () => ({})) {
  let current: AppContext | undefined;
  let workers: RunningWorkers | undefined;
  beforeEach(async () => {
    await resetDatabase();
    await resetQueueStore();
    current = engineContext(options());
  });
  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await current?.close();
    current = undefined;
  });
  return {
    get ctx(): AppContext {
      if (current === undefined) throw new Error('the engine exists only inside a test');
      return current;
    },
    /** Starts every worker in this process, without schedulers (tests drive the ticks). */
    async startWorkers(): Promise<void> {
      workers = await startWorkers(this.ctx, undefined, { schedule: false });
    },
  };
}

/** {@link freshEngine} with a manual clock anchored on the real now at the start of each test. */
export function freshEngineWithClock() {
  const clock = clockNow();
  const engine = freshEngine(() => {
    clock.reanchor(clockNow());
    return { clock };
  });
  return Object.assign(engine, { clock });
}
