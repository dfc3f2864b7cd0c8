import type { Command } from 'commander';
import { CliError, parseId, print, withContext, withDb } from './cli-support.js';
import { registerPostMetricsCommand } from './metrics-commands.js';
import type { Narrative } from '../analytics/narrative-memory.js';
import { percent } from '../analytics/wilson-interval.js';
import { systemClock } from '../core/clock.js';

/** Columns padded to their widest cell, two spaces apart. */
function columns(rows: ReadonlyArray<readonly string[]>): string {
  const widths = rows[0]?.map((_, index) => Math.max(...rows.map((row) => row[index]?.length ?? 0))) ?? [];
  return rows.map((row) => row.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ').trimEnd()).join('\n');
}

function narrativeTable(narratives: readonly Narrative[]): string {
  return columns([
    ['segment', 'angle', 'sends', 'replies', 'reply rate', '95% interval', 'campaigns'],
    ...narratives.map((row) => [
      row.segment,
      row.angle,
      String(row.sends),
      String(row.replies),
      percent(row.replyRate.rate),
      `${percent(row.replyRate.low)}–${percent(row.replyRate.high)}`,
      String(row.campaigns),
    ]),
  ]);
}

/** `drumbeat metrics rollup|fetch`, `drumbeat segment add|list` and `drumbeat narratives`: what works, and for whom. */
export function registerLearningCommands(program: Command): void {
  const metrics = program.command('metrics').description('campaign, channel and variant metrics, and the platforms\' post engagement');
  registerPostMetricsCommand(metrics);
  metrics
    .command('rollup')
    .description('run the metrics rollup now: what changed since the last run, or one campaign whole; prints what it did')
    .option('--campaign <id>', 'recompute this campaign, all of its days')
    .action(async (flags: { campaign?: string }) => {
      const campaignId = flags.campaign === undefined ? undefined : parseId(flags.campaign);
      const { describeRollup } = await import('../analytics/metrics-rollup.js');
      await withContext(async (ctx) => {
        if (campaignId !== undefined) await ctx.campaigns.require(campaignId);
        print(describeRollup(await ctx.rollup.run(campaignId === undefined ? {} : { campaignId })), false);
      });
    });

  const segment = program.command('segment').description('ICP segments: named conditions over lead fields that label leads for learning and reports');
  segment
    .command('add <name>')
    .description('define a segment: every --when must hold (ops = != ~= (contains) in (comma list), over lead fields and custom.<key>; case is ignored)')
    .option('--when <condition>', 'a condition, e.g. company~=acme or "custom.tier in gold,silver" (repeat for more)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .action(async (name: string, flags: { when: string[] }) => {
      if (flags.when.length === 0) throw new CliError('a segment needs at least one --when <field><op><value>');
      const [{ addSegment }, { describeCondition }] = await Promise.all([import('../segments/segment-service.js'), import('../segments/segment-rules.js')]);
      await withDb(async (db) => {
        const added = await addSegment(db, { name, conditions: flags.when, now: systemClock.now() });
        print(`segment ${added.name} added: ${added.rules.map(describeCondition).join(' AND ')}`, false);
      });
    });
  segment
    .command('list')
    .description('list segments and their conditions')
    .option('--json', 'print as JSON')
    .action(async (flags: { json?: boolean }) => {
      const [{ listSegments }, { describeCondition }] = await Promise.all([import('../segments/segment-store.js'), import('../segments/segment-rules.js')]);
      await withDb(async (db) => {
        const segments = await listSegments(db);
        if (flags.json === true) {
          print(
            segments.map((found) => ({ name: found.name, conditions: found.rules.map(describeCondition), rules: found.rules, createdAt: found.createdAt })),
            true,
          );
        } else if (segments.length === 0) print('no segments yet (drumbeat segment add <name> --when <field><op><value>)', false);
        else for (const found of segments) print(`${found.name}: ${found.rules.map(describeCondition).join(' AND ')}`, false);
      });
    });

  program
    .command('narratives')
    .description('narrative memory: sends, replies and reply rate (95% Wilson interval) per segment and variant angle, across campaigns, best first')
    .option('--segment <name>', 'only this segment')
    .option('--json', 'print as JSON')
    .action(async (flags: { segment?: string; json?: boolean }) => {
      const [{ NO_SEGMENT, segmentNameSchema }, { narrativeMemory }] = await Promise.all([import('../segments/segment-rules.js'), import('../analytics/narrative-memory.js')]);
      if (flags.segment !== undefined && flags.segment !== NO_SEGMENT && !segmentNameSchema.safeParse(flags.segment).success) throw new CliError(`"${flags.segment}" is not a segment name`);
      await withDb(async (db) => {
        const narratives = await narrativeMemory(db, flags.segment === undefined ? {} : { segment: flags.segment });
        if (flags.json === true) print(narratives, true);
        else if (narratives.length === 0) print('no narrative memory yet: give variants an angle, send, and let the metrics rollup run (drumbeat metrics rollup)', false);
        else print(narrativeTable(narratives), false);
      });
    });
}
