/**
 * Helpers shared by every CLI command module. The app is loaded per command: this module and the
 * command registrations import only types and commander at the top, and each action imports what
 * it runs when it runs (`await import(…)`), so `drumbeat --help` or `drumbeat campaign list` does
 * not load BullMQ, Express or the whole context.
 */
import { userInfo } from 'node:os';
import { systemClock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import type { Auditor } from '../audit/audited.js';
import type { AuditedActions } from '../audit/audited-actions.js';
import type { AuditedDataActions } from '../audit/audited-data-actions.js';
import type { Logger } from '../log/logger.js';
import type { Knex } from '../db/knex.js';
import type { AppContext } from '../runtime/context.js';

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

/** Whether a command-line word is one of `choices`; narrows it to them. */
export function oneOf<Choice extends string>(value: string, choices: readonly Choice[]): value is Choice {
  return (choices as readonly string[]).includes(value);
}

/** The configuration, parsed from the environment. @throws ConfigError listing every invalid variable. */
export async function config(): Promise<Config> {
  const { loadConfig } = await import('../config/config.js');
  return loadConfig();
}

/**
 * The CLI's logger writes its JSON lines to standard error (fd 2): standard output carries only
 * what the command prints for people and scripts (`drumbeat report 1 --format json > f`).
 */
export async function logger(cfg: Config): Promise<Logger> {
  const [{ pino }, { createLogger }] = await Promise.all([import('pino'), import('../log/logger.js')]);
  return createLogger(cfg, pino.destination(2));
}

/** Runs a command body with a database pool, closed afterwards. */
export async function withDb<T>(body: (db: Knex, cfg: Config) => Promise<T>): Promise<T> {
  const cfg = await config();
  const { createDb } = await import('../db/knex.js');
  const db = createDb(cfg);
  try {
    return await body(db, cfg);
  } finally {
    await db.destroy();
  }
}

/** Runs a command body with the full context (database, Redis, queues), closed afterwards. */
export async function withContext<T>(body: (ctx: AppContext) => Promise<T>): Promise<T> {
  const cfg = await config();
  const { createAppContext } = await import('../runtime/context.js');
  const ctx = createAppContext(cfg, await logger(cfg));
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

/** The global `--by <email>` of this run, set once by the program before its command runs. */
let actingFor: string | undefined;

/**
 * Records the global `--by <email>` option (the operator a change is made for).
 * @throws CliError when it is not an email address.
 */
export async function setCliActor(by: string | undefined): Promise<void> {
  if (by === undefined) {
    actingFor = undefined;
    return;
  }
  const { z } = await import('zod');
  const parsed = z.string().trim().toLowerCase().pipe(z.email()).safeParse(by);
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
function cliAuditor(db: Knex): Auditor {
  return { db, clock: systemClock, actor: cliActor(), via: 'cli' };
}

/** Runs a command body with the full context and the audited actions of this CLI run, closed afterwards. */
export async function withActions<T>(body: (actions: AuditedActions, ctx: AppContext) => Promise<T>): Promise<T> {
  return withContext(async (ctx) => {
    const { auditedActions } = await import('../audit/audited-actions.js');
    return body(auditedActions(ctx, { ...cliAuditor(ctx.db), clock: ctx.clock }), ctx);
  });
}

/** Runs a command body with a database pool and the audited database-only actions of this CLI run (no Redis). */
export async function withDataActions<T>(body: (actions: AuditedDataActions, db: Knex) => Promise<T>): Promise<T> {
  return withDb(async (db) => {
    const { auditedDataActions } = await import('../audit/audited-data-actions.js');
    return body(auditedDataActions(db, cliAuditor(db)), db);
  });
}
