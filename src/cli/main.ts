import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { CliError, config, logger, oneOf, parseId, parsePositive, print, setCliActor, withActions, withContext, withDb } from './cli-support.js';
import { registerLeadCommands } from './lead-commands.js';
import { registerSuppressionCommands } from './suppression-commands.js';
import { registerAccessCommands } from './access-commands.js';
import { registerMessageCommands } from './message-commands.js';
import { registerTemplateCommands } from './template-commands.js';
import { registerReviewCommands } from './review-commands.js';
import { registerChannelCommands } from './channel-commands.js';
import { registerCampaignCommands } from './campaign-commands.js';
import { registerLearningCommands } from './learning-commands.js';

/** Runs one of the long-running processes until it is stopped. */
async function runProcessCommand(kind: 'api' | 'worker' | 'start'): Promise<void> {
  const cfg = await config();
  const { runProcess } = await import('../runtime/processes.js');
  await runProcess(kind, cfg, await logger(cfg));
}

/** `migrate`, `preflight`, and the processes: `api`, `worker` (`--until-idle`), `start`. */
function registerProcessCommands(program: Command): void {
  program
    .command('migrate')
    .description('create the database if missing and apply every pending migration')
    .action(async () => {
      const cfg = await config();
      const { ensureDatabase, migrateLatest } = await import('../db/migrate.js');
      await ensureDatabase(cfg.DATABASE_URL);
      await withDb(async (db) => {
        const applied = await migrateLatest(db);
        print(applied.length === 0 ? 'schema already current' : `applied ${applied.length} migration(s): ${applied.join(', ')}`, false);
      });
      if (cfg.QUEUE_BACKEND === 'postgres') {
        const [{ QUEUE_SCHEMA }, { migrateQueueSchema }] = await Promise.all([import('../jobs/queue-store.js'), import('../jobs/queue-schema.js')]);
        print(`queue schema "${QUEUE_SCHEMA}" at BullMQ version ${await migrateQueueSchema(cfg.DATABASE_URL)}`, false);
      }
    });

  program
    .command('preflight')
    .description('check the queue store (Redis, or the queue schema with QUEUE_BACKEND=postgres), Postgres, the schema, LIVE channel settings and the SMTP login; exit 1 on any problem')
    .option('--json', 'print the checks as JSON')
    .action(async (options: { json?: boolean }) => {
      const cfg = await config();
      const { runPreflight } = await import('../preflight/preflight.js');
      const report = await runPreflight(cfg, undefined, { smtpLogin: true, storedTemplates: true });
      if (options.json === true) print(report, true);
      else for (const check of report.checks) print(`${check.ok ? (check.warning === true ? 'WARN' : 'ok  ') : 'FAIL'} ${check.name}: ${check.message}`, false);
      if (!report.ok) process.exitCode = 1;
    });

  program.command('api').description('run the HTTP process (webhooks, admin API, Bull Board)').action(() => runProcessCommand('api'));
  program
    .command('worker')
    .description('run the queue workers')
    .option('--until-idle', 'exit 0 once nothing is due now and no job is waiting, active or delayed-due; prints what it sent and what waits')
    .action(async (options: { untilIdle?: boolean }) => {
      if (options.untilIdle !== true) return runProcessCommand('worker');
      const { runWorkersUntilIdle } = await import('../runtime/run-workers-until-idle.js');
      await withContext(async (ctx) => print(await runWorkersUntilIdle(ctx), false));
    });
  program.command('start').description('run the API and the workers in one process (local use)').action(() => runProcessCommand('start'));
}

/** `kill on|off|status` (the global kill switch) and `tick <campaignId>` (one tick now). */
function registerControlCommands(program: Command): void {
  program
    .command('kill <state>')
    .description('the global kill switch: on, off or status')
    .action(async (state: string) => {
      if (!oneOf(state, ['on', 'off', 'status'])) throw new CliError(`kill takes on, off or status, not "${state}"`);
      const { readKillSwitch } = await import('../settings/kill-switch.js');
      await withActions(async (actions, ctx) => {
        const result = state === 'status' ? await readKillSwitch(ctx.db) : await actions.killSwitch(state === 'on');
        print(`kill switch is ${result.on ? 'ON: no adapter is called' : 'off'}`, false);
      });
    });

  program
    .command('tick <campaignId>')
    .description('run one tick of a campaign now (the workers send what it queues)')
    .action(async (campaignId: string) => {
      const { campaignTickQueue } = await import('../../queues/campaign-tick.js');
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
      const format = options.format;
      if (!oneOf(format, ['json', 'md', 'csv', 'html'])) throw new CliError(`--format takes json, md, csv or html, not "${format}"`);
      const [{ campaignReport, reportToCsv, reportToMarkdown }, { reportToHtml }] = await Promise.all([
        import('../analytics/campaign-report.js'),
        import('../analytics/report-html.js'),
      ]);
      await withDb(async (db) => {
        const report = await campaignReport(db, parseId(campaignId));
        if (format === 'json') print(report, true);
        else process.stdout.write(format === 'md' ? reportToMarkdown(report) : format === 'csv' ? reportToCsv(report) : reportToHtml(report));
      });
    });

  program
    .command('demo')
    .description('create a three-step PROOF campaign with generated leads, run it to completion and print its report')
    .option('--leads <n>', 'how many leads', parsePositive, 1000)
    .action(async (options: { leads: number }) => {
      const cfg = await config();
      const [{ ensureDatabase, migrateLatest }, { migrateQueueSchema }, { createAppContext }, { runDemo }, { reportToMarkdown }] = await Promise.all([
        import('../db/migrate.js'),
        import('../jobs/queue-schema.js'),
        import('../runtime/context.js'),
        import('./demo.js'),
        import('../analytics/campaign-report.js'),
      ]);
      await ensureDatabase(cfg.DATABASE_URL);
      const ctx = createAppContext(cfg, await logger({ ...cfg, LOG_LEVEL: 'warn' }));
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

