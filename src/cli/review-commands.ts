import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, parseId, print, withActions, withContext } from './cli-support.js';
import type { ReviewOutcome } from '../review/review-service.js';

function printOutcome(verb: string, outcome: ReviewOutcome, json: boolean | undefined): void {
  if (json === true) {
    print(outcome, true);
  } else {
    print(`${verb} ${outcome.done.length} message(s)${outcome.enqueued > 0 ? `, ${outcome.enqueued} send(s) queued` : ''}`, false);
    for (const refused of outcome.refused) print(`  not ${verb} ${refused.id}: ${refused.reason}`, false);
  }
  if (outcome.refused.length > 0) process.exitCode = 1;
}

/**
 * `drumbeat review …` (per-message review: list, approve, reject, edit) and the strategy
 * decisions `campaign reject` and `campaign edit` (an edited sequence needs approving again).
 */
export function registerReviewCommands(program: Command): void {
  const review = program.command('review').description('messages held for human review');

  review
    .command('list')
    .description('list messages waiting for review, with the text that would be sent')
    .option('--campaign <id>', 'only this campaign')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print as JSON')
    .action(async (options: { campaign?: string; limit: string; json?: boolean }) => {
      await withContext(async (ctx) => {
        const messages = await ctx.reviews.list({
          ...(options.campaign === undefined ? {} : { campaignId: parseId(options.campaign) }),
          limit: parseId(options.limit),
        });
        if (options.json === true) {
          print(messages, true);
          return;
        }
        for (const message of messages) {
          print(
            `#${message.id}  campaign ${message.campaignId} step ${message.step} ${message.channel}${message.format === 'html' ? ' (html)' : ''} → ${message.recipient ?? '(no address)'}${message.variant === null ? '' : `  variant ${message.variant}`}`,
            false,
          );
          if (message.heldReason !== null) print(`  HELD: ${message.heldReason}`, false);
          if (message.subject !== null) print(`  subject: ${message.subject}`, false);
          print(`  ${(message.body ?? '').replace(/\n/g, '\n  ')}\n`, false);
        }
        if (messages.length === 0) print('nothing waits for review', false);
      });
    });

  review
    .command('approve [ids...]')
    .description('approve messages (or --campaign <id> --all); their sends are queued at once')
    .option('--campaign <id>', 'with --all: every waiting message of this campaign')
    .option('--all', 'approve all waiting messages of --campaign')
    .option('--note <note>', 'a note kept with the decision')
    .option('--json', 'print the outcome as JSON')
    .action(async (ids: string[], options: { campaign?: string; all?: boolean; note?: string; json?: boolean }) => {
      const note = options.note ?? null;
      await withActions(async (actions) => {
        if (options.all === true) {
          if (options.campaign === undefined || ids.length > 0) throw new CliError('--all needs --campaign <id> and no message ids');
          printOutcome('approved', await actions.reviewApproveCampaign(parseId(options.campaign), note), options.json);
          return;
        }
        if (ids.length === 0) throw new CliError('give message ids, or --campaign <id> --all');
        printOutcome('approved', await actions.reviewApprove(ids.map(parseId), note), options.json);
      });
    });

  review
    .command('reject <ids...>')
    .description('reject messages; the lead skips that step (or ends, per the campaign)')
    .requiredOption('--reason <reason>', 'why')
    .option('--json', 'print the outcome as JSON')
    .action(async (ids: string[], options: { reason: string; json?: boolean }) => {
      await withActions(async (actions) => {
        printOutcome('rejected', await actions.reviewReject(ids.map(parseId), options.reason), options.json);
      });
    });

  review
    .command('edit <id>')
    .description('replace the text of a waiting message (re-checked for placeholders; still needs approval)')
    .requiredOption('--file <file>', 'the new body')
    .option('--subject <text>', 'a new subject')
    .action(async (id: string, options: { file: string; subject?: string }) => {
      const body = await readFile(options.file, 'utf8');
      await withActions(async (actions) => {
        const edited = await actions.reviewEdit(parseId(id), { body, ...(options.subject === undefined ? {} : { subject: options.subject }) });
        print(`message ${edited.id} edited; approve it to send`, false);
      });
    });

  const campaign = program.commands.find((command) => command.name() === 'campaign') ?? program.command('campaign').description('campaigns');
  campaign
    .command('reject <id>')
    .description('reject the campaign strategy (it cannot start)')
    .requiredOption('--reason <reason>', 'why')
    .action(async (id: string, options: { reason: string }) => {
      await withActions(async (actions) => {
        const rejected = await actions.campaign(parseId(id), 'reject', options.reason);
        print(`campaign ${rejected.id} strategy REJECTED`, false);
      });
    });
  campaign
    .command('edit <id>')
    .description('replace the sequence of a DRAFT or PAUSED campaign from a spec file; the strategy returns to DRAFT')
    .requiredOption('--file <file>', 'the campaign spec (JSON or YAML)')
    .action(async (id: string, options: { file: string }) => {
      const { readCampaignSpecFile } = await import('../campaigns/campaign-spec.js');
      const spec = await readCampaignSpecFile(options.file);
      await withActions(async (actions) => {
        const edited = await actions.editSequence(parseId(id), spec);
        print(`campaign ${edited.id} sequence replaced; strategy is ${edited.strategyStatus} (approve it again)`, false);
      });
    });
}
