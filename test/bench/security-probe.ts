/**
 * The security probe (issue 13's closing measurement): about 5,000 hostile requests against a
 * real `drumbeat api` and `drumbeat worker` (child processes on a free port), as the probe that
 * filed the issue sent them — template escapes, text Postgres cannot hold, bad ids, deep and
 * oversized JSON, odd text in signed webhooks, unbounded durations, a sign-in brute force, Bull
 * Board as an operator, aborted and oversized uploads, dead tokens, and two rounds of 40
 * templates of 900 KB on the fresh api.
 * Prints a summary and, last, one JSON line: requests, answers by status class and status, every
 * 5xx, whether either process exited, whether the canary file was written, upload files left,
 * the brute force's counts, whether Bull Board refused the job, and the api's RSS. Exits 1 on
 * any 5xx, unanswered request, answer its class did not expect, crash, canary write, leftover
 * upload, signed event not stored, sign-in while throttled, job added from Bull Board, payload
 * name rendered as anything but its text, or secret in the logs.
 *
 *   npm run probe:security
 *
 * Uses DATABASE_URL's server (database `drumbeat_probe_<pid>`, created and dropped) and
 * REDIS_URL (prefix `dbprobe<pid>`, deleted afterwards); never the shared database or another
 * prefix. Every child it starts is stopped, on failure and on Ctrl-C too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/config.js';
import { createDb } from '../../src/db/knex.js';
import { ensureDatabase, migrateLatest } from '../../src/db/migrate.js';
import { createLogger } from '../../src/log/logger.js';
import { createAppContext, type AppContext } from '../../src/runtime/context.js';
import { parseCampaignSpec, type CampaignSpecInput } from '../../src/campaigns/campaign-spec.js';
import { upsertLeads } from '../../src/leads/lead-store.js';
import { enrollLeads } from '../../src/enrollments/enrollment-lifecycle.js';
import { addOperator, disableOperator } from '../../src/operators/operator-service.js';
import { createApiToken, revokeApiToken } from '../../src/operators/api-token-service.js';
import { importLeadsQueue } from '../../queues/import-leads.js';
import { parseByteSize } from '../../src/http/lead-api-routes.js';
import { mountedApiRoutes } from '../support/api-routes.js';
import { deletePrefix } from './redis-keys.js';
import { exactly, ProbeTally } from './probe-tally.js';
import {
  badIdsEverywhere,
  badTextEverywhere,
  badTextPublic,
  bruteForce,
  bullBoard,
  deadTokens,
  deepAndOversized,
  hostileFields,
  largeTemplates,
  signedOddText,
  templatePayloads,
  unboundedDurations,
  uploads,
  type ProbeRole,
  type ProbeSession,
  type ProbeTarget,
} from './security-attacks.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const baseConfig = loadConfig();
const databaseUrl = new URL(baseConfig.DATABASE_URL);
databaseUrl.pathname = `/drumbeat_probe_${process.pid}`;
const prefix = `dbprobe${process.pid}`;
const password = 'correct horse battery staple';
const importMaxBytes = '256kb';

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** A child process of the probe, its output, and whether it exited while it should have run. */
interface Child {
  name: string;
  process: ChildProcess;
  output: string;
  exitedEarly: string | undefined;
}

let stopping = false;
const children: Child[] = [];

function startChild(name: 'api' | 'worker', env: Record<string, string>): Child {
  const child: Child = {
    name,
    process: spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', name], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] }),
    output: '',
    exitedEarly: undefined,
  };
  const collect = (chunk: Buffer) => (child.output += chunk.toString());
  child.process.stdout?.on('data', collect);
  child.process.stderr?.on('data', collect);
  child.process.on('exit', (code, signal) => {
    if (!stopping) child.exitedEarly = `exited with ${signal ?? `code ${code}`}`;
  });
  children.push(child);
  return child;
}

/** Stops every child still running: SIGTERM, then SIGKILL after 10 s. */
async function stopChildren(): Promise<void> {
  stopping = true;
  await Promise.all(
    children.map(async ({ process: child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

process.once('SIGINT', () => {
  void stopChildren().finally(() => process.exit(130));
});

/** Resident set size of a process in MB (Linux `/proc`), or null where it cannot be read. */
async function rssMb(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? null : Math.round(Number(kb) / 1024);
}

/** Polls `check` every 100 ms until it holds; throws `what` after `timeoutMs`. */
async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    const exited = children.find((child) => child.exitedEarly !== undefined);
    if (exited !== undefined) throw new Error(`${exited.name} ${exited.exitedEarly ?? ''} while waiting for ${what}:\n${exited.output.slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Signs in through `POST /admin/login` as a JSON client (counted like every other request). */
async function signIn(tally: ProbeTally, email: string): Promise<ProbeSession> {
  const answer = await tally.send(
    'sign-in',
    'POST',
    '/admin/login',
    { headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ email, password }) },
    exactly(200),
  );
  const cookies = Object.fromEntries(
    answer.headers.getSetCookie().map((header) => {
      const pair = header.split(';')[0] ?? '';
      return [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
    }),
  );
  const session = cookies.drumbeat_session;
  const csrf = cookies['XSRF-TOKEN'];
  if (session === undefined || csrf === undefined) throw new Error(`could not sign in as ${email} (${answer.status})`);
  return { cookie: `drumbeat_session=${session}; XSRF-TOKEN=${csrf}`, csrfToken: decodeURIComponent(csrf) };
}

/** A list for the summary: `none`, or its first 20 entries, one a line, and how many more. */
function listed(entries: readonly string[]): string {
  if (entries.length === 0) return 'none';
  const more = entries.length > 20 ? `\n    … and ${entries.length - 20} more` : '';
  return `${entries.length}\n    ${entries.slice(0, 20).join('\n    ')}${more}`;
}

/** Pino lines of a process at level error or fatal. */
function errorLines(output: string): string[] {
  return output.split('\n').filter((line) => /"level":(50|60)\b/.test(line));
}

/** The fixtures of the probe: operators and tokens of every role, a DRAFT and an ACTIVE PROOF campaign with leads. */
async function seed(ctx: AppContext) {
  const emails = { admin: 'admin@probe.example', operator: 'operator@probe.example', reviewer: 'reviewer@probe.example', viewer: 'viewer@probe.example' };
  const bearer = {} as Record<ProbeRole, string>;
  for (const role of ['admin', 'operator', 'reviewer', 'viewer'] as const) {
    await addOperator(ctx.db, emails[role], password, { role });
    bearer[role] = `Bearer ${(await createApiToken(ctx.db, `probe ${role}`, emails[role])).token}`;
  }
  bearer.ownerless = `Bearer ${(await createApiToken(ctx.db, 'probe installation')).token}`;
  const expired = await createApiToken(ctx.db, 'probe expired', emails.operator, undefined, 1);
  const revoked = await createApiToken(ctx.db, 'probe revoked', emails.operator);
  await revokeApiToken(ctx.db, revoked.id);
  await addOperator(ctx.db, 'departed@probe.example', password, { role: 'operator' });
  const departed = await createApiToken(ctx.db, 'probe departed', 'departed@probe.example');
  await disableOperator(ctx.db, 'departed@probe.example');

  const draftSpec: CampaignSpecInput = {
    name: 'Probe draft',
    slug: 'probe-draft',
    mode: 'PROOF',
    timezone: 'UTC',
    tickEvery: '1s',
    from: { name: 'Ada', email: 'ada@probe.example' },
    steps: [{ channel: 'email', delay: '0s', subject: 'Hi <%= it.lead.firstName %>', body: 'Hi <%= it.lead.firstName %>' }],
  };
  const draftCampaignId = await ctx.campaigns.create(parseCampaignSpec(draftSpec));
  const activeSlug = 'probe-spring';
  // Every message waits for review, so the review routes have real ids and each render stays readable.
  const activeCampaignId = await ctx.campaigns.create(
    parseCampaignSpec({ ...draftSpec, name: 'Probe spring', slug: activeSlug, requireReview: true, steps: [{ channel: 'email', delay: '0s', subject: 'Hello <%= it.lead.firstName %>', body: 'Hi <%= it.lead.firstName %>' }] }),
  );
  const leads = [
    { email: 'niamh@oconnor.example', firstName: 'Niamh', lastName: "O'Connor", company: 'Procter & Gamble' },
    { email: 'sean@obrien.example', firstName: 'Seán', lastName: "O'Brien", company: 'AT&T <Labs>' },
    { email: 'yuki@tokyo.example', firstName: '由紀', lastName: '佐藤', company: '株式会社 <テスト>' },
    { email: 'omar@rtl.example', firstName: 'عمر', lastName: 'الفارسي', company: 'شركة & شركاه' },
    { email: 'sam@emoji.example', firstName: 'Sam 🚀', lastName: 'Lee', company: 'Rocket > Fuel' },
  ];
  const leadIds = await upsertLeads(ctx.db, leads, new Date());
  await enrollLeads(ctx.db, activeCampaignId, [...leadIds.values()], 0, new Date());
  await ctx.campaigns.approve(activeCampaignId, 'probe', 'probe');
  await ctx.campaigns.start(activeCampaignId);
  const { template } = await ctx.templates.add({ name: 'probe-greeting', channel: 'email', subject: 'Hi', body: 'Hi <%= it.lead.firstName %>' }, 'probe');
  return {
    adminEmail: emails.admin,
    operatorEmail: emails.operator,
    bearer,
    deadBearer: { expired: `Bearer ${expired.token}`, revoked: `Bearer ${revoked.token}`, ownerDisabled: `Bearer ${departed.token}` },
    draftCampaignId,
    draftSpec: draftSpec as Record<string, unknown>,
    activeCampaignId,
    activeSlug,
    templateId: template.id,
    leadEmail: leads[0]?.email ?? '',
  };
}

const uploadDir = await mkdtemp(join(tmpdir(), 'drumbeat-probe-uploads-'));
const canaryFile = join(tmpdir(), `drumbeat-probe-canary-${process.pid}`);
const port = await freePort();
const secrets = {
  WEBHOOK_SECRET: `probe-webhook-${process.pid}-0123456789abcdef`,
  SESSION_SECRET: `probe-session-secret-${process.pid}-0123456789abcdef`,
  MAILGUN_SIGNING_KEY: `probe-mailgun-${process.pid}-0123456789abcdef`,
};
const drumbeatEnv: Record<string, string> = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  DATABASE_URL: databaseUrl.toString(),
  DATABASE_POOL_MAX: '10',
  REDIS_URL: baseConfig.REDIS_URL,
  QUEUE_PREFIX: prefix,
  HOST: '127.0.0.1',
  PORT: String(port),
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  IMPORT_UPLOAD_DIR: uploadDir,
  IMPORT_MAX_BYTES: importMaxBytes,
  // Every form request reaches validation and storage instead of stopping at the per-IP limit.
  FORM_RATE_PER_MINUTE: '100000',
  ...secrets,
};
const inherited: Record<string, string> = {};
for (const [key, value] of Object.entries(process.env)) if (value !== undefined) inherited[key] = value;

const startedAt = performance.now();
let exitCode = 1;
await ensureDatabase(databaseUrl.toString());
const db = createDb({ DATABASE_URL: databaseUrl.toString(), DATABASE_POOL_MAX: 2 });
const probeConfig = loadConfig({ ...drumbeatEnv, LOG_LEVEL: 'silent', DATABASE_POOL_MAX: '4' });
const ctx = createAppContext(probeConfig, createLogger(probeConfig));
try {
  await migrateLatest(db);
  const fixtures = await seed(ctx);
  const importQueue = ctx.queues.get(importLeadsQueue);
  // An import whose upload does not exist fails: the dead letter an operator retries in Bull Board.
  await importQueue.add(importLeadsQueue.jobName, importLeadsQueue.schema.parse({ campaignId: fixtures.activeCampaignId, uploadId: randomUUID(), fileName: 'gone.csv', createdBy: 'probe' }));

  const api = startChild('api', { ...inherited, ...drumbeatEnv });
  const worker = startChild('worker', { ...inherited, ...drumbeatEnv });
  const tally = new ProbeTally(`http://127.0.0.1:${port}`);
  await waitFor(async () => (await fetch(tally.url('/healthz'))).ok, 'the api to listen');
  await waitFor(async () => (await importQueue.getFailedCount()) > 0, 'the worker to fail the import of a missing upload');
  const pendingReview = () => db('messages').where({ campaign_id: fixtures.activeCampaignId, status: 'PENDING_REVIEW' }).orderBy('id').pluck('id') as Promise<number[]>;
  await waitFor(async () => (await pendingReview()).length >= 5, 'the worker to tick the ACTIVE campaign');
  const rssAtStart = await rssMb(api.process.pid);

  const target: ProbeTarget = {
    tally,
    db,
    routes: mountedApiRoutes(ctx),
    ...fixtures,
    password,
    reviewMessageIds: await pendingReview(),
    webhookSecret: secrets.WEBHOOK_SECRET,
    mailgunSigningKey: secrets.MAILGUN_SIGNING_KEY,
    canaryFile,
    uploadDir,
    importQueue,
    concurrency: 8,
  };
  // Sessions first: the brute force then throttles this IP for every account.
  const sessions = { operator: await signIn(tally, fixtures.operatorEmail), admin: await signIn(tally, fixtures.adminEmail) };
  // On the fresh api first, as the probe of issue 13 measured it (126 → 309 MB then): a parse
  // cache that kept refused templates grows by the same again with a second round; garbage does not.
  const rssBeforeLarge = await rssMb(api.process.pid);
  await largeTemplates(target, 1);
  const rssAfter40Large = await rssMb(api.process.pid);
  await largeTemplates(target, 2);
  const rssAfter80Large = await rssMb(api.process.pid);
  const login = await bruteForce(target);
  const board = await bullBoard(target, sessions);
  await deadTokens(target);
  const payloads = await templatePayloads(target);
  await badIdsEverywhere(target);
  await badTextEverywhere(target);
  await badTextPublic(target, sessions.operator);
  await hostileFields(target);
  await deepAndOversized(target);
  const webhooks = await signedOddText(target);
  await unboundedDurations(target);
  const upload = await uploads(target, parseByteSize(importMaxBytes));

  // The worker renders the leads whose names are payloads: as text, like any name.
  const renderedPayloadLeads = async () =>
    (await db('messages as m')
      .join('leads as l', 'l.id', 'm.lead_id')
      .where('m.campaign_id', fixtures.activeCampaignId)
      .where('l.email', 'like', '%payload-%@probe.example')
      .select('m.body', 'm.status', 'l.first_name')) as Array<{ body: string | null; status: string; first_name: string | null }>;
  const storedPayloadLeads = payloads.storedThroughApi + payloads.storedThroughForm;
  await waitFor(async () => (await renderedPayloadLeads()).length >= storedPayloadLeads, 'the worker to render the payload leads', 20_000).catch(() => undefined);
  const rendered = await renderedPayloadLeads();
  const renderedAsText = rendered.filter((message) => message.body === `Hi ${message.first_name ?? ''}`).length;

  await new Promise((resolve) => setTimeout(resolve, 500));
  const rssAtEnd = await rssMb(api.process.pid);
  const crashes = children.filter((child) => child.exitedEarly !== undefined).map((child) => `${child.name} ${child.exitedEarly ?? ''}`);
  const canaryUntouched = !existsSync(canaryFile);
  const uploadFilesLeft = upload.filesLeft;
  const logs = { api: errorLines(api.output), worker: errorLines(worker.output) };
  // The import of a missing upload fails on purpose (the dead letter Bull Board retries), twice.
  const unexplainedLogs = [...logs.api, ...logs.worker].filter((line) => !line.includes('is not in the upload directory'));
  const leakedSecrets = [password, 'wrong-password-', ...Object.values(secrets)].filter((secret) => api.output.includes(secret) || worker.output.includes(secret));
  const seconds = Number(((performance.now() - startedAt) / 1000).toFixed(1));

  const report = {
    requests: tally.requests,
    seconds,
    byStatusClass: tally.byStatusClass(),
    byStatus: Object.fromEntries([...tally.byStatus].sort(([a], [b]) => a - b)),
    byClass: Object.fromEntries(tally.byClass),
    serverErrors: tally.serverErrors,
    unanswered: { count: tally.unanswered.length, first: tally.unanswered.slice(0, 100) },
    unexpected: { count: tally.unexpected.length, first: tally.unexpected.slice(0, 100) },
    crashes,
    canaryUntouched,
    uploadFilesLeft,
    abortedUploads: upload.aborted,
    login,
    bullBoardAddJobRefused: board.addJobRefused,
    bullBoardRetryAllowed: board.retryAllowed,
    signedOddTextEvents: webhooks,
    templatePayloadNames: { ...payloads, renderedByWorker: rendered.length, renderedByWorkerAsText: renderedAsText },
    errorLogLines: { api: logs.api.length, worker: logs.worker.length, unexplained: unexplainedLogs.length },
    secretsInLogs: leakedSecrets.length,
    apiRssMb: {
      start: rssAtStart,
      before900KbTemplates: rssBeforeLarge,
      after40: rssAfter40Large,
      after80: rssAfter80Large,
      end: rssAtEnd,
      growth: rssAtEnd === null || rssAtStart === null ? null : rssAtEnd - rssAtStart,
    },
  };
  const failed =
    tally.serverErrors.length > 0 ||
    tally.unanswered.length > 0 ||
    tally.unexpected.length > 0 ||
    crashes.length > 0 ||
    !canaryUntouched ||
    uploadFilesLeft > 0 ||
    webhooks.stored !== webhooks.sent ||
    login.rightPasswordAcceptedWhileThrottled ||
    !board.addJobRefused ||
    renderedAsText !== rendered.length ||
    leakedSecrets.length > 0;
  exitCode = failed ? 1 : 0;

  const lines = [
    `security probe: ${report.requests} requests in ${seconds} s against one api and one worker (pids ${api.process.pid}, ${worker.process.pid})`,
    `  answers: ${Object.entries(report.byStatusClass).map(([kind, count]) => `${kind} ${count}`).join(', ')}; by status ${Object.entries(report.byStatus).map(([status, count]) => `${status}×${count}`).join(' ')}`,
    `  5xx: ${listed(tally.serverErrors)}`,
    `  unanswered: ${listed(tally.unanswered)}`,
    `  unexpected answers: ${listed(tally.unexpected)}`,
    `  crashes: ${crashes.length === 0 ? 'none (api and worker ran throughout)' : crashes.join('; ')}`,
    `  template escapes: ${payloads.refusedSaves} of ${payloads.saves} saves refused, canary ${canaryUntouched ? 'untouched' : 'WRITTEN'}; ${payloads.payloads} payloads as lead names (a name over 200 characters or with a line break is refused): stored ${payloads.storedThroughApi} through the API and ${payloads.storedThroughForm} through the form, previewed as text ${payloads.previewsAsText}/${payloads.storedThroughApi}, rendered by the worker as text ${renderedAsText}/${rendered.length}`,
    `  uploads: ${uploadFilesLeft} files left in IMPORT_UPLOAD_DIR (${upload.aborted} aborted mid-body, 2 past IMPORT_MAX_BYTES, 1 cut, 1 refused fields)`,
    `  sign-in: ${login.wrongPasswords} wrong passwords in ${login.seconds} s → ${login.unauthorized}×401, ${login.throttled}×429; right password then → ${login.rightPasswordStatus} (accepted while throttled: ${login.rightPasswordAcceptedWhileThrottled})`,
    `  Bull Board as operator: add-job refused ${board.addJobRefused}, retry allowed ${board.retryAllowed}`,
    `  signed webhooks with NUL / lone surrogates: ${webhooks.stored} of ${webhooks.sent} events stored`,
    `  logs: ${logs.api.length} error lines from the api, ${logs.worker.length} from the worker (${logs.api.length + logs.worker.length - unexplainedLogs.length} the import of a missing upload, failed on purpose, and its retry); secrets or passwords in logs: ${leakedSecrets.length}`,
    `  api RSS: ${rssAtStart} MB at start; ${rssBeforeLarge} → ${rssAfter40Large} MB after 40 × 900 KB refused templates, ${rssAfter80Large} MB after 40 more; ${rssAtEnd} MB at the end (growth ${report.apiRssMb.growth} MB)`,
    `  requests by class: ${Object.entries(report.byClass).map(([name, count]) => `${name} ${count}`).join(', ')}`,
    `  ${failed ? 'FAILED' : 'passed'}`,
  ];
  for (const line of unexplainedLogs.slice(0, 10)) lines.push(`  log: ${line.slice(0, 300)}`);
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(report)}\n`);
} finally {
  await stopChildren();
  await ctx.close();
  await db.destroy();
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const adminDb = createDb({ DATABASE_URL: admin.toString(), DATABASE_POOL_MAX: 1 });
  await adminDb.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [databaseUrl.pathname.slice(1)]);
  await adminDb.destroy();
  const redis = new Redis(baseConfig.REDIS_URL);
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await rm(uploadDir, { recursive: true, force: true });
  await rm(canaryFile, { force: true });
}
process.exitCode = exitCode;
