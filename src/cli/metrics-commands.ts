import type { Command } from 'commander';
import { CliError, parseId, print, withContext } from './cli-support.js';

/** `drumbeat metrics fetch [--campaign <id>]`: read published posts' engagement from the platforms now. */
export function registerPostMetricsCommand(metrics: Command): void {
  metrics
    .command('fetch')
    .description('read the engagement of published posts from their platforms now (the daily post-metrics job does this too)')
    .option('--campaign <id>', 'only this campaign’s posts')
    .option('--json', 'print the summary as JSON')
    .action(async (options: { campaign?: string; json?: boolean }) => {
      const campaignId = options.campaign === undefined ? undefined : parseId(options.campaign);
      const [{ findCampaign }, { describePostMetrics }] = await Promise.all([import('../campaigns/campaign-store.js'), import('../analytics/post-metrics-service.js')]);
      await withContext(async (ctx) => {
        if (campaignId !== undefined && (await findCampaign(ctx.db, campaignId)) === undefined) throw new CliError(`campaign ${campaignId} does not exist`);
        const summary = await ctx.postMetrics.fetch({ campaignId, missingOnly: false, retry: 0 });
        if (options.json === true) return print(summary, true);
        const lines = describePostMetrics(summary);
        print(lines.length === 0 ? 'no platform is configured: set X_BEARER_TOKEN, LINKEDIN_ACCESS_TOKEN or INSTAGRAM_ACCESS_TOKEN' : lines.join('\n'), false);
      });
    });
}
