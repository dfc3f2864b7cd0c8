import { Option, type Command } from 'commander';
import type { RetrySelection } from '../messages/dead-letter-service.js';
import { CliError, parseId, print, withActions, withContext } from './cli-support.js';

/** `drumbeat messages unknown|resolve|dead|retry`: how operators settle UNKNOWN and DEAD sends. */
export function registerMessageCommands(program: Command): void {
  const messages = program.command('messages').description('messages whose outcome needs an operator');
  messages
    .command('dead')
    .description('list DEAD messages (failed for good) from Postgres, with their last error')
    .option('--campaign <id>', 'only this campaign', parseId)
    .option('--json', 'print as JSON')
    .action(async (options: { campaign?: number; json?: boolean }) => {
      const { deadLetterService } = await import('../messages/dead-letter-service.js');
      await withContext(async (ctx) => {
        const dead = await deadLetterService(ctx).list(options.campaign);
        if (options.json === true) print(dead, true);
        else if (dead.length === 0) print('no DEAD messages', false);
        else {
          print('id\tcampaign\tstep\tchannel\trecipient\tattempts\tlast error', false);
          for (const message of dead) {
            print(
              [message.id, message.campaignId, message.step, message.channel, message.recipient ?? '-', message.attempts, (message.lastError ?? '').replace(/\s+/g, ' ')].join('\t'),
              false,
            );
          }
        }
      });
    });
  messages
    .command('retry [ids...]')
    .description('queue DEAD messages again through every gate (reopens a FAILED lead at that step and a COMPLETED campaign)')
    .option('--campaign <id>', 'with --all: every DEAD message of this campaign', parseId)
    .option('--all', 'with --campaign: retry all of its DEAD messages')
    .action(async (ids: string[], options: { campaign?: number; all?: boolean }) => {
      let selection: RetrySelection;
      if (ids.length > 0) {
        if (options.campaign !== undefined || options.all === true) throw new CliError('give message ids, or --campaign <id> --all, not both');
        selection = { ids: ids.map(parseId) };
      } else if (options.campaign !== undefined && options.all === true) selection = { campaignId: options.campaign };
      else throw new CliError('give the ids of DEAD messages, or --campaign <id> --all');
      const { describeRetry } = await import('../messages/dead-letter-service.js');
      await withActions(async (actions) => {
        const outcome = await actions.retryDead(selection);
        print(describeRetry(outcome), false);
        for (const refused of outcome.refused) print(`  message ${refused.id} left DEAD: ${refused.reason}`, false);
        if (outcome.queued.length === 0) process.exitCode = 1;
      });
    });
  messages
    .command('unknown')
    .description('list UNKNOWN messages (the provider may or may not have them; never resent on their own)')
    .option('--campaign <id>', 'only this campaign', parseId)
    .option('--json', 'print as JSON')
    .action(async (options: { campaign?: number; json?: boolean }) => {
      const { unknownService } = await import('../messages/unknown-service.js');
      await withContext(async (ctx) => {
        const unknown = await unknownService(ctx).list(options.campaign);
        if (options.json === true) print(unknown, true);
        else if (unknown.length === 0) print('no UNKNOWN messages', false);
        else
          for (const message of unknown) {
            print(
              `${message.id}\tcampaign ${message.campaignId}\tstep ${message.step}\t${message.channel}\t${message.recipient ?? '-'}\t${message.lastError ?? ''}`,
              false,
            );
          }
      });
    });
  messages
    .command('resolve <ids...>')
    .description('settle UNKNOWN messages after checking with the provider')
    .addOption(new Option('--as <resolution>', 'sent: it arrived; failed: it did not (lead stops); resend: queue it again').choices(['sent', 'failed', 'resend']).makeOptionMandatory())
    .action(async (ids: string[], options: { as: 'sent' | 'failed' | 'resend' }) => {
      await withActions(async (actions) => {
        const wanted = ids.map(parseId);
        const resolved = await actions.resolveUnknown(wanted, options.as);
        const skipped = wanted.filter((id) => !resolved.includes(id));
        print(`resolved ${resolved.length} message(s) as ${options.as}${skipped.length > 0 ? `; not UNKNOWN (left alone): ${skipped.join(', ')}` : ''}`, false);
        if (skipped.length > 0) process.exitCode = 1;
      });
    });
}
