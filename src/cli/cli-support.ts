/** Helpers shared by every CLI command module. */
import { userInfo } from 'node:os';
import { z } from 'zod';
import { loadConfig, type Config } from '../config/config.js';
import { systemClock } from '../core/clock.js';
import type { Auditor } from '../audit/audited.js';
import { auditedActions, auditedDataActions, type AuditedActions, type AuditedDataActions } from '../audit/audited-actions.js';
import { pino } from 'pino';
import { createLogger, type Logger } from '../log/logger.js';
import { createDb, type Knex } from '../db/knex.js';
import { createAppContext, type AppContext } from '../runtime/context.js';

/** An error whose message is the whole story for the operator: printed as one line. */
export class CliError extends Error {}

/**
 * An id from the command line (an argument or an option value). A CliError, not commander's
 * InvalidArgumentError: thrown inside an action, commander would swallow the latter silently.
 */
export function parseId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
    throw new CliError(`"${value}" is not an id (ids are positive whole numbers)`);
  }
  return Number(value);
}

/** A count from the command line, such as `--leads 500`. */
export function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
    throw new CliError(`"${value}" is not a positive whole number`);
  }
  return Number(value);
}

export function config(): Config {
  return loadConfig();
}

/**
 * The CLI's logger writes its JSON lines to standard error (fd 2): standard output carries only
 * what the command prints for people and scripts (`drumbeat report 1 --format json > f`).
 */
export function logger(cfg: Config): Logger {
  return createLogger(cfg, pino.destination(2));
}

/** Runs a command body with a database pool, closed afterwards. */
export async function withDb<T>(body: (db: Knex, cfg: Config) => Promise<T>): Promise<T> {
  const cfg = config();
  const db = createDb(cfg);
  try {
    return await body(db, cfg);
  } finally {
    await db.destroy();
  }
}

/** Runs a command body with the full context (database, Redis, queues), closed afterwards. */
export async function withContext<T>(body: (ctx: AppContext) => Promise<T>): Promise<T> {
  const cfg = config();
  const ctx = createAppContext(cfg, logger(cfg));
  try {
    return await body(ctx);
  } finally {
    await ctx.close();
  }
}

export function print(value: unknown, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${String(value)}\n`);
}

export async function readPassword(option: string | undefined): Promise<string> {
  if (option !== undefined) return option;
  if (process.stdin.isTTY) throw new CliError('give the password with --password, or pipe it on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}


const byEmail = z.string().trim().toLowerCase().pipe(z.email());

/** The global `--by <email>` of this run, set once by the program before its command runs. */
let actingFor: string | undefined;

/**
 * Records the global `--by <email>` option (the operator a change is made for).
 * @throws CliError when it is not an email address.
 */
export function setCliActor(by: string | undefined): void {
  if (by === undefined) {
    actingFor = undefined;
    return;
  }
  const parsed = byEmail.safeParse(by);
  if (!parsed.success) throw new CliError(`--by takes the email of the person acting, not "${by}"`);
  actingFor = parsed.data;
}

/** The login name of whoever runs the CLI; `unknown` where the system has none for this uid. */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Who a CLI command acts as in the audit log: `--by <email>`, else `cli:<os user>`. */
export function cliActor(): string {
  return actingFor ?? `cli:${osUser()}`;
}

/** The auditor of this CLI run (via `cli`). */
export function cliAuditor(db: Knex): Auditor {
  return { db, clock: systemClock, actor: cliActor(), via: 'cli' };
}

/** The audited actions of this CLI run, for commands with the full context. */
export function cliActions(ctx: AppContext): AuditedActions {
  return auditedActions(ctx, { ...cliAuditor(ctx.db), clock: ctx.clock });
}

/** The audited database-only actions of this CLI run, for commands that run without Redis. */
export function cliDataActions(db: Knex): AuditedDataActions {
  return auditedDataActions(db, cliAuditor(db));
}
