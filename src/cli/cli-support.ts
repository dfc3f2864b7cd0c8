/** Helpers shared by every CLI command module. */
import { loadConfig, type Config } from '../config/config.js';
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

