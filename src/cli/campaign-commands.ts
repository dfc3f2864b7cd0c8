import type { Command } from 'commander';
import { parseId, print, withActions, withContext, withDb } from './cli-support.js';

/**
 * `drumbeat campaign …`: create from a spec, approve, start, pause, resume, archive, list and
 * show (`campaign reject` and `campaign edit` are registered with the review commands).
 */
export function registerCampaignCommands(program: Command): void {
  const campaign = program.command('campaign').description('campaigns');
  campaign
    .command('create <file>')
    .description('create a campaign from a JSON or YAML spec; prints its id last')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      const { readCampaignSpecFile } = await import('../campaigns/campaign-spec.js');
      const spec = await readCampaignSpecFile(file);
      await withActions(async (actions) => {
        const id = await actions.createCampaign(spec);
        if (options.json === true) print({ id, name: spec.name, slug: spec.slug, status: 'DRAFT' }, true);
        else print(`created campaign "${spec.name}" (DRAFT; approve then start it)\n${id}`, false);
      });
    });
  campaign
    .command('approve <id>')
    .description('approve the campaign strategy')
    .option('--note <note>', 'why it is approved')
    .action(async (id: string, options: { note?: string }) => {
      await withActions(async (actions) => {
        const approved = await actions.campaign(parseId(id), 'approve', options.note ?? null);
        print(`campaign ${approved.id} strategy APPROVED`, false);
      });
    });
  for (const action of ['start', 'pause', 'resume', 'archive'] as const) {
    campaign
      .command(`${action} <id>`)
      .description(`${action} the campaign`)
      .action(async (id: string) => {
        await withActions(async (actions) => {
          const changed = await actions.campaign(parseId(id), action);
          print(`campaign ${changed.id} is ${changed.status}`, false);
        });
      });
  }
  campaign
    .command('list')
    .description('list campaigns')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const { listCampaigns } = await import('../campaigns/campaign-store.js');
      await withDb(async (db) => {
        const campaigns = await listCampaigns(db);
        if (options.json === true) print(campaigns, true);
        else for (const row of campaigns) print(`${row.id}\t${row.status}\t${row.strategyStatus}\t${row.mode}\t${row.slug}\t${row.name}`, false);
      });
    });
  campaign
    .command('show <id>')
    .description('show a campaign and its report (--json: with the spec it was last created or edited from)')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const [{ findSubmittedSpec }, { campaignReport, reportToMarkdown }] = await Promise.all([
        import('../campaigns/campaign-store.js'),
        import('../analytics/campaign-report.js'),
      ]);
      await withContext(async (ctx) => {
        const found = await ctx.campaigns.require(parseId(id));
        const report = await campaignReport(ctx.db, found.id);
        if (options.json === true) print({ campaign: found, spec: await findSubmittedSpec(ctx.db, found.id), report }, true);
        else print(reportToMarkdown(report), false);
      });
    });
}
