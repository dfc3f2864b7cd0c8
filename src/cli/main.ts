import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { ConfigError } from '../config/config.js';
import { ensureDatabase, migrateLatest } from '../db/migrate.js';
import { migrateQueueSchema } from '../jobs/queue-schema.js';
import { QUEUE_SCHEMA } from '../jobs/queue-store.js';
import { runPreflight } from '../preflight/preflight.js';
import { runProcess, runWorkersUntilIdle } from '../runtime/processes.js';
import { createAppContext } from '../runtime/context.js';
import { cliActions, CliError, config, logger, parseId, parsePositive, print, setCliActor, withContext, withDb } from './cli-support.js';
import { registerLeadCommands } from './lead-commands.js';
import { registerSuppressionCommands } from './suppression-commands.js';
import { readKillSwitch } from '../settings/kill-switch.js';
import { campaignReport, reportToCsv, reportToMarkdown } from '../analytics/campaign-report.js';
import { reportToHtml } from '../analytics/report-html.js';
import { registerAccessCommands } from './access-commands.js';
import { campaignTickQueue } from '../../queues/campaign-tick.js';
import { runDemo } from './demo.js';
import { registerMessageCommands } from './message-commands.js';
import { registerTemplateCommands } from './template-commands.js';
import { registerReviewCommands } from './review-commands.js';
import { registerChannelCommands } from './channel-commands.js';
import { registerCampaignCommands } from './campaign-commands.js';
import { registerLearningCommands } from './learning-commands.js';

/** `migrate`, `preflight`, and the processes: `api`, `worker` (`--until-idle`), `start`. */
function registerProcessCommands(program: Command): void {
  program
    .command('migrate')
    .description('create the database if missing and apply every pending migration')
    .action(async () => {
      const cfg = config();
      await ensureDatabase(cfg.DATABASE_URL);
      await withDb(async (db) => {
        const applied = await migrateLatest(db);
        print(applied.length === 0 ? 'schema already current' : `applied ${applied.length} migration(s): ${applied.join(', ')}`, false);
      });
      if (cfg.QUEUE_BACKEND === 'postgres') print(`queue schema "${QUEUE_SCHEMA}" at BullMQ version ${await migrateQueueSchema(cfg.DATABASE_URL)}`, false);
    });

  program
    .command('preflight')
    .description('check the queue store (Redis, or the queue schema with QUEUE_BACKEND=postgres), Postgres, the schema, LIVE channel settings and the SMTP login; exit 1 on any problem')
    .option('--json', 'print the checks as JSON')
    .action(async (options: { json?: boolean }) => {
      const report = await runPreflight(config(), undefined, { smtpLogin: true, storedTemplates: true });
      if (options.json === true) print(report, true);
      else for (const check of report.checks) print(`${check.ok ? (check.warning === true ? 'WARN' : 'ok  ') : 'FAIL'} ${check.name}: ${check.message}`, false);
      if (!report.ok) process.exitCode = 1;
    });

  program.command('api').description('run the HTTP process (webhooks, admin API, Bull Board)').action(() => runProcess('api', config(), logger(config())));
  program
    .command('worker')
    .description('run the queue workers')
    .option('--until-idle', 'exit 0 once nothing is due now and no job is waiting, active or delayed-due; prints what it sent and what waits')
    .action(async (options: { untilIdle?: boolean }) => {
      if (options.untilIdle !== true) return runProcess('worker', config(), logger(config()));
      await withContext(async (ctx) => print(await runWorkersUntilIdle(ctx), false));
    });
  program.command('start').description('run the API and the workers in one process (local use)').action(() => runProcess('start', config(), logger(config())));
}

/** `kill on|off|status` (the global kill switch) and `tick <campaignId>` (one tick now). */
function registerControlCommands(program: Command): void {
  program
    .command('kill <state>')
    .description('the global kill switch: on, off or status')
    .action(async (state: string) => {
      const parsed = z.enum(['on', 'off', 'status']).safeParse(state);
      if (!parsed.success) throw new CliError(`kill takes on, off or status, not "${state}"`);
      await withContext(async (ctx) => {
        const result = parsed.data === 'status' ? await readKillSwitch(ctx.db) : await cliActions(ctx).killSwitch(parsed.data === 'on');
        print(`kill switch is ${result.on ? 'ON: no adapter is called' : 'off'}`, false);
      });
    });

  program
    .command('tick <campaignId>')
    .description('run one tick of a campaign now (the workers send what it queues)')
    .action(async (campaignId: string) => {
      await withContext(async (ctx) => {
        const id = parseId(campaignId);
        await ctx.campaigns.require(id);
        const slot = ctx.clock.now().toISOString();
        await ctx.queues.get(campaignTickQueue).add(campaignTickQueue.jobName, campaignTickQueue.schema.parse({ campaignId: id, slot }), {
          jobId: `manual-${id}-${Date.parse(slot)}`,
        });
        print(`tick queued for campaign ${id}`, false);
      });
    });
}

/** `report <campaignId>` and `demo`. */
function registerReportCommands(program: Command): void {
  program
    .command('report <campaignId>')
    .description('print a campaign report')
    .option('--format <format>', 'json, md, csv or html (one self-contained page with SVG charts)', 'md')
    .action(async (campaignId: string, options: { format: string }) => {
      const format = z.enum(['json', 'md', 'csv', 'html']).safeParse(options.format);
      if (!format.success) throw new CliError(`--format takes json, md, csv or html, not "${options.format}"`);
      await withDb(async (db) => {
        const report = await campaignReport(db, parseId(campaignId));
        if (format.data === 'json') print(report, true);
        else process.stdout.write(format.data === 'md' ? reportToMarkdown(report) : format.data === 'csv' ? reportToCsv(report) : reportToHtml(report));
      });
    });

  program
    .command('demo')
    .description('create a three-step PROOF campaign with generated leads, run it to completion and print its report')
    .option('--leads <n>', 'how many leads', parsePositive, 1000)
    .action(async (options: { leads: number }) => {
      const cfg = config();
      await ensureDatabase(cfg.DATABASE_URL);
      const ctx = createAppContext(cfg, logger({ ...cfg, LOG_LEVEL: 'warn' }));
      try {
        await migrateLatest(ctx.db);
        if (cfg.QUEUE_BACKEND === 'postgres') await migrateQueueSchema(cfg.DATABASE_URL);
        const report = await runDemo(ctx, options.leads);
        process.stdout.write(reportToMarkdown(report));
      } finally {
        await ctx.close();
      }
    });
}

/** Builds the `drumbeat` command line. */
export function buildProgram(): Command {
  const program = new Command('drumbeat')
    .description('Campaign orchestration engine: multi-step, multi-channel outbound sequences with hard safety limits.')
    // Usage errors are one line on stderr too, like every other failure.
    .configureOutput({ outputError: (text, write) => write(`drumbeat: ${text.trim().replace(/^error: /, '')} (run with --help for usage)\n`) })
    .option('--by <email>', 'who is acting, recorded in the audit log (default: cli:<your OS user>)')
    .hook('preAction', (command) => setCliActor(command.opts<{ by?: string }>().by))
    .exitOverride();

  registerProcessCommands(program);
  registerAccessCommands(program);
  registerCampaignCommands(program);
  registerMessageCommands(program);
  registerLeadCommands(program);
  registerSuppressionCommands(program);
  registerControlCommands(program);
  registerReportCommands(program);
  registerLearningCommands(program);
  registerTemplateCommands(program);
  registerReviewCommands(program);
  registerChannelCommands(program);

  return program;
}

/** Runs the CLI; every failure is one clear line on stderr and a non-zero exit. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`drumbeat: ${message.split('\n')[0] ?? message}\n`);
    }
    process.exitCode = 1;
  }
}

