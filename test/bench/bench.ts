/**
 * `npm run bench [-- --leads N]`: measures, in one run on the same Redis and Postgres,
 *   B — bare BullMQ: N no-op jobs added with addBulk (chunks of 1,000), one worker at the
 *       engine's send concurrency, removeOnComplete (in a process of its own);
 *   P — the full PROOF pipeline of a one-step campaign of N leads: tick → message rows →
 *       addBulk → send jobs through every gate → outcome recorded → enrollment completed;
 * and one tick's selection on a campaign with 1,000,000 enrollments of which 1,000 are due.
 * Prints its figures; the last line is JSON. Uses its own database (`drumbeat_bench`, where only
 * the 1M-enrollment campaign stays between runs) and queue prefix, so it never touches the
 * demo's or the tests' data. `--backend postgres` runs B and P on BullMQ's Postgres backend
 * (`QUEUE_BACKEND=postgres`, the queue schema of `drumbeat_bench`) instead of Redis.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createLogger } from '../../src/log/logger.js';
import { createDb, type Knex } from '../../src/db/knex.js';
import { ensureDatabase, migrateLatest } from '../../src/db/migrate.js';
import { migrateQueueSchema } from '../../src/jobs/queue-schema.js';
import { QUEUE_SCHEMA } from '../../src/jobs/queue-store.js';
import { createAppContext } from '../../src/runtime/context.js';
import { startWorkers } from '../../src/runtime/worker-runtime.js';
import { parseCampaignSpec } from '../../src/campaigns/campaign-spec.js';
import { campaignTickQueue, tickSchedulerId } from '../../queues/campaign-tick.js';
import { cpuSnapshot, describeCpu, type CpuSnapshot } from './cpu-usage.js';
import { deletePrefix } from './redis-keys.js';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index === -1 ? undefined : Number(process.argv[index + 1]);
  return value !== undefined && Number.isInteger(value) && value > 0 ? value : fallback;
}

const leads = argument('leads', 20_000);
const backendIndex = process.argv.indexOf('--backend');
const backend = z.enum(['redis', 'postgres']).parse(backendIndex === -1 ? 'redis' : process.argv[backendIndex + 1]);
const baseUrl = new URL(loadConfig().DATABASE_URL);
baseUrl.pathname = '/drumbeat_bench';
const config: Config = loadConfig({
  ...process.env,
  DATABASE_URL: baseUrl.toString(),
  QUEUE_PREFIX: `bench${process.pid}`,
  QUEUE_BACKEND: backend,
  LOG_LEVEL: 'warn',
});

function reportCpu(phase: string, before: CpuSnapshot, wallSeconds: number): void {
  process.stderr.write(`${describeCpu(phase, before, cpuSnapshot(), leads, wallSeconds)}\n`);
}

async function usedMemoryMb(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 1024 / 1024;
}

/**
 * B: the ceiling — BullMQ alone moving N no-op jobs, run in a process of its own
 * (`bare-bullmq.ts`) so that P, in this one, starts from a fresh heap and its peak RSS is the
 * pipeline's own.
 */
async function bareBullmq(): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('bare-bullmq.ts', import.meta.url)),
      String(leads),
      String(config.SEND_CONCURRENCY),
      `${config.QUEUE_PREFIX}bare`,
      ...(backend === 'postgres' ? [config.DATABASE_URL] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`phase B exited with ${code}`);
  const result = z.object({ jobsPerSecond: z.number().positive() }).parse(JSON.parse(output));
  return result.jobsPerSecond;
}

async function seedLeads(db: Knex, campaignId: number, count: number, prefix: string, dueAt: Date): Promise<void> {
  await db.raw(
    `WITH inserted AS (
       INSERT INTO leads (email, identity_hash, first_name, company)
       SELECT ? || i || '@bench.example', md5(? || i), 'Lead' || i, 'Bench' FROM generate_series(1, ?) AS i
       ON CONFLICT (identity_hash) DO UPDATE SET updated_at = now()
       RETURNING id
     )
     INSERT INTO campaign_leads (campaign_id, lead_id, state, current_step, next_action_at)
     SELECT ?, id, 'NEW', 0, ? FROM inserted
     ON CONFLICT (campaign_id, lead_id) DO NOTHING`,
    [prefix, prefix, count, campaignId, dueAt],
  );
}

/**
 * Removes a pipeline run's campaign, messages, proof rows and leads, so that every run starts
 * from the same database: only the 1M-enrollment campaign, which never keeps a message. The
 * message tables are emptied whole: deleting the enrollments row by row would look up
 * `messages.enrollment_id` (not indexed) once per row.
 */
async function removePipelineCampaign(db: Knex, campaignId: number, leadPrefix: string): Promise<void> {
  await db.raw('TRUNCATE messages, proof_deliveries CASCADE');
  await db('campaigns').where({ id: campaignId }).delete();
  await db('leads').where('email', 'like', `${leadPrefix}%`).delete();
}

/** P: the whole engine on a one-step PROOF campaign; returns leads/s, wall time and peak RSS. */
async function pipeline(redis: Redis | undefined): Promise<{ perSecond: number; wallSeconds: number; peakRssMb: number; redisDeltaMb: number | undefined }> {
  const ctx = createAppContext(config, createLogger(config));
  const stamp = Date.now().toString(36);
  const campaignId = await ctx.campaigns.create(
    parseCampaignSpec({
      name: `Bench ${stamp}`,
      slug: `bench-${stamp}`,
      mode: 'PROOF',
      tickEvery: '1h',
      from: { name: 'Bench', email: 'bench@example.com' },
      steps: [{ channel: 'email', subject: 'Hi <%= it.lead.firstName %>', body: 'Hello <%= it.lead.firstName %> at <%= it.lead.company %>' }],
    }),
  );
  const leadPrefix = `p${stamp}-`;
  await seedLeads(ctx.db, campaignId, leads, leadPrefix, new Date(Date.now() - 1000));
  await ctx.campaigns.approve(campaignId, 'bench', 'bench');
  await ctx.campaigns.start(campaignId);
  // The bench drives the one tick itself; drop the scheduler's.
  await ctx.queues.get(campaignTickQueue).removeJobScheduler(tickSchedulerId(campaignId));
  await ctx.queues.get(campaignTickQueue).drain(true);
  // On Postgres the scheduler's first run is already waiting, and BullMQ 6.7 removes it neither with the scheduler nor by drain.
  if (backend === 'postgres') await ctx.db.raw(`DELETE FROM ${QUEUE_SCHEMA}.job WHERE queue = ? AND scheduler_id = ?`, [campaignTickQueue.name, tickSchedulerId(campaignId)]);
  const memoryBefore = redis === undefined ? undefined : await usedMemoryMb(redis);

  const workers = await startWorkers(ctx, undefined, { schedule: false });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  await ctx.queues.get(campaignTickQueue).add('tick', { campaignId, slot: new Date().toISOString() }, { jobId: `bench-tick-${stamp}` });
  // Done when every enrollment is COMPLETED. Polled cheaply so as not to load the system under
  // test: first until the tick has finished and no message is still queued or in flight (a
  // partial-index look-up), then the enrollments themselves are checked (a scan of all of them).
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const tickRun = (await ctx.db('tick_runs').where({ campaign_id: campaignId }).whereNotNull('finished_at').first('id')) as { id: number } | undefined;
    if (tickRun === undefined) continue;
    const unsent = (await ctx.db('messages').where({ campaign_id: campaignId }).whereIn('status', ['QUEUED', 'SENDING']).first('id')) as { id: number } | undefined;
    if (unsent !== undefined) continue;
    const open = (await ctx.db('campaign_leads').where({ campaign_id: campaignId }).whereNot({ state: 'COMPLETED' }).first('id')) as { id: number } | undefined;
    if (open === undefined) break;
  }
  const wallSeconds = (performance.now() - started) / 1000;
  reportCpu('P', cpuBefore, wallSeconds);
  clearInterval(sampler);
  await workers.close();
  const [{ sent }] = (await ctx.db('messages').where({ campaign_id: campaignId, status: 'SENT_PROOF' }).count('* as sent')) as [{ sent: number }];
  const [{ rows }] = (await ctx.db('proof_deliveries').where('idempotency_key', 'like', `c${campaignId}-%`).count('* as rows')) as [{ rows: number }];
  if (sent !== leads || rows !== leads) throw new Error(`pipeline sent ${sent} messages and wrote ${rows} proof rows for ${leads} leads`);
  for (const queue of ctx.queues.all()) await queue.clean(0, 100_000, 'completed');
  const redisDeltaMb = redis === undefined || memoryBefore === undefined ? undefined : (await usedMemoryMb(redis)) - memoryBefore;
  await removePipelineCampaign(ctx.db, campaignId, leadPrefix);
  await ctx.close();
  return { perSecond: leads / wallSeconds, wallSeconds, peakRssMb: peakRss / 1024 / 1024, redisDeltaMb };
}

/** One tick's selection on 1,000,000 enrollments of which 1,000 are due (the data is kept between runs). */
async function tickSelection(db: Knex): Promise<number> {
  const spec = parseCampaignSpec({
    name: 'Bench one million',
    slug: 'bench-one-million',
    mode: 'PROOF',
    from: { name: 'Bench', email: 'bench@example.com' },
    steps: [{ channel: 'email', subject: 'Hi', body: 'Hi' }],
  });
  let campaign = (await db('campaigns').where({ slug: spec.slug }).first('id')) as { id: number } | undefined;
  if (campaign === undefined) {
    process.stderr.write('seeding 1,000,000 enrollments (first run only)…\n');
    [campaign] = (await db('campaigns')
      .insert({ name: spec.name, slug: spec.slug, mode: 'PROOF', spec: JSON.stringify(spec) })
      .returning('id')) as Array<{ id: number }>;
    if (campaign === undefined) throw new Error('campaign insert failed');
    const future = new Date(Date.now() + 365 * 86_400_000);
    for (let batch = 0; batch < 10; batch += 1) await seedLeads(db, campaign.id, 100_000, `m${batch}-`, future);
    await db.raw('ANALYZE campaign_leads');
  }
  const campaignId = campaign.id;
  // Make exactly 1,000 due now, the rest in the future.
  await db('campaign_leads').where({ campaign_id: campaignId }).where('next_action_at', '<=', new Date()).update({ next_action_at: new Date(Date.now() + 365 * 86_400_000) });
  await db.raw(
    `UPDATE campaign_leads SET next_action_at = now() - interval '1 minute'
      WHERE id IN (SELECT id FROM campaign_leads WHERE campaign_id = ? ORDER BY id LIMIT 1000)`,
    [campaignId],
  );
  const timings: number[] = [];
  for (let run = 0; run < 5; run += 1) {
    await db.transaction(async (trx) => {
      const started = performance.now();
      const due = (await trx
        .select('cl.id', 'cl.lead_id', 'cl.current_step', 'l.email', 'l.first_name', 'l.last_name', 'l.company', 'l.custom')
        .from('campaign_leads as cl')
        .join('leads as l', 'l.id', 'cl.lead_id')
        .where('cl.campaign_id', campaignId)
        .whereIn('cl.state', ['NEW', 'ACTIVE'])
        .whereNotNull('cl.next_action_at')
        .where('cl.next_action_at', '<=', new Date())
        .orderBy([{ column: 'cl.next_action_at' }, { column: 'cl.id' }])
        .limit(1000)
        .forUpdate('cl')
        .skipLocked()) as unknown[];
      timings.push(performance.now() - started);
      if (due.length !== 1000) throw new Error(`selected ${due.length} due enrollments, expected 1000`);
      await trx.rollback();
    }).catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith('selected')) throw error;
    });
  }
  timings.sort((a, b) => a - b);
  return timings[Math.floor(timings.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  await ensureDatabase(config.DATABASE_URL);
  const db = createDb(config);
  await migrateLatest(db);
  if (backend === 'postgres') await migrateQueueSchema(config.DATABASE_URL);
  const redis = backend === 'redis' ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: null }) : undefined;
  try {
    process.stderr.write(`bench: ${leads} leads, send concurrency ${config.SEND_CONCURRENCY}, queues on ${backend}\n`);
    const bare = await bareBullmq();
    process.stderr.write(`B bare BullMQ: ${bare.toFixed(0)} jobs/s\n`);
    const piped = await pipeline(redis);
    process.stderr.write(
      `P pipeline: ${piped.perSecond.toFixed(0)} leads/s, ${piped.wallSeconds.toFixed(2)} s, peak RSS ${piped.peakRssMb.toFixed(0)} MB${piped.redisDeltaMb === undefined ? '' : `, Redis +${piped.redisDeltaMb.toFixed(2)} MB`}\n`,
    );
    const selectMs = await tickSelection(db);
    process.stderr.write(`tick selection on 1M enrollments (1,000 due): ${selectMs.toFixed(1)} ms (median of 5)\n`);
    process.stdout.write(
      `${JSON.stringify({
        leads,
        backend,
        bare_jobs_per_s: Math.round(bare),
        pipeline_leads_per_s: Math.round(piped.perSecond),
        ratio: Number((piped.perSecond / bare).toFixed(3)),
        pipeline_wall_s: Number(piped.wallSeconds.toFixed(2)),
        worker_peak_rss_mb: Math.round(piped.peakRssMb),
        redis_used_memory_delta_mb: piped.redisDeltaMb === undefined ? null : Number(piped.redisDeltaMb.toFixed(2)),
        tick_select_ms_1m_enrollments: Number(selectMs.toFixed(1)),
      })}\n`,
    );
  } finally {
    if (redis !== undefined) {
      await deletePrefix(redis, config.QUEUE_PREFIX);
      redis.disconnect();
    }
    await db.destroy();
  }
}

await main();
