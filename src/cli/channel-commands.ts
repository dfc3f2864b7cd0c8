import type { Command } from 'commander';
import { cliActor, CliError, parseId, print, withContext } from './cli-support.js';

/** `drumbeat posts …`: the content calendar (list, schedule, approve, reject). */
function registerPostCommands(program: Command): void {
  const posts = program.command('posts').description('the content calendar: public posts of a campaign');

  posts
    .command('list <campaignId>')
    .description('list a campaign’s posts with their time and status')
    .option('--json', 'print as JSON')
    .action(async (campaignId: string, options: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const list = await ctx.content.list(parseId(campaignId));
        if (options.json === true) return print(list, true);
        for (const post of list) {
          print(`#${post.id}  ${post.scheduledAt.toISOString()}  ${post.platform}  ${post.status}${post.externalId === null ? '' : `  ${post.externalId}`}  ${post.text.slice(0, 60)}`, false);
        }
        if (list.length === 0) print('this campaign has no posts', false);
      });
    });

  posts
    .command('schedule <campaignId>')
    .description('add the publish jobs of the campaign’s waiting posts (each tick does this too)')
    .action(async (campaignId: string) => {
      const { loadCampaignDefinition } = await import('../campaigns/campaign-definition.js');
      await withContext(async (ctx) => {
        const id = parseId(campaignId);
        const definition = await loadCampaignDefinition(ctx.db, id);
        if (definition === undefined) throw new CliError(`campaign ${id} does not exist`);
        print(`${await ctx.content.schedule(definition)} publish job(s) handed to the queue`, false);
      });
    });

  for (const verb of ['approve', 'reject'] as const) {
    posts
      .command(`${verb} <postId>`)
      .description(verb === 'approve' ? 'approve a post held for review; it publishes at its time' : 'reject a post held for review; it is never published')
      .action(async (postId: string) => {
        const { PostStateError } = await import('../content/content-calendar.js');
        await withContext(async (ctx) => {
          try {
            if (verb === 'approve') await ctx.content.approve(parseId(postId), cliActor());
            else await ctx.content.reject(parseId(postId), cliActor());
          } catch (error) {
            if (error instanceof PostStateError) throw new CliError(error.message);
            throw error;
          }
          print(`post ${postId} ${verb === 'approve' ? 'approved' : 'rejected'}`, false);
        });
      });
  }
}

/**
 * `drumbeat posts …` (the content calendar: list, schedule, approve, reject), `drumbeat breakers`
 * (circuit-breaker states reported by the workers) and `drumbeat llm-usage <campaignId>`.
 */
export function registerChannelCommands(program: Command): void {
  registerPostCommands(program);

  program
    .command('breakers')
    .description('circuit-breaker states last reported by the workers')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const states = await ctx.breakerStates.read();
        if (options.json === true) return print(states, true);
        for (const state of states) print(`${state.name}  ${state.state}  since ${state.since}${state.retryAt === undefined ? '' : `  trial at ${state.retryAt}`}`, false);
        if (states.length === 0) print('no breaker has reported yet', false);
      });
    });

  program
    .command('llm-usage <campaignId>')
    .description('LLM requests, tokens and fallbacks of a campaign, per day')
    .option('--json', 'print as JSON')
    .action(async (campaignId: string, options: { json?: boolean }) => {
      await withContext(async (ctx) => {
        const rows = (await ctx.db('llm_usage').where({ campaign_id: parseId(campaignId) }).orderBy('day')) as Array<{
          day: string;
          requests: number;
          prompt_tokens: number;
          completion_tokens: number;
          fallbacks: number;
        }>;
        if (options.json === true) return print(rows, true);
        for (const row of rows) {
          print(`${String(row.day)}  requests ${row.requests}  prompt ${row.prompt_tokens}  completion ${row.completion_tokens}  fallbacks ${row.fallbacks}`, false);
        }
        if (rows.length === 0) print('no LLM use recorded', false);
      });
    });
}
