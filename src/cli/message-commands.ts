import { Option, type Command } from 'commander';
import { unknownService } from '../messages/unknown-service.js';
import { parseId, print, withContext } from './cli-support.js';

/** `drumbeat messages unknown|resolve`: how operators settle UNKNOWN sends. */
export function registerMessageCommands(program: Command): void {
  const messages = program.command('messages').description('messages whose outcome needs an operator');
  messages
    .command('unknown')
    .description('list UNKNOWN messages (the provider may or may not have them; never resent on their own)')
    .option('--campaign <id>', 'only this campaign', parseId)
    .option('--json', 'print as JSON')
    .action(async (options: { campaign?: number; json?: boolean }) => {
      await withContext(async (ctx) => {
        const unknown = await unknownService(ctx).list(options.campaign);
        if (options.json === true) print(unknown, true);
        else if (unknown.length === 0) print('no UNKNOWN messages', false);
        else
          for (const message of unknown) {
            print(
              `${message.id}\tcampaign ${message.campaignId}\tstep ${message.stepIndex + 1}\t${message.channel}\t${message.recipient ?? '-'}\t${message.lastError ?? ''}`,
              false,
            );
          }
      });
    });
  messages
    .command('resolve <ids...>')
    .description('settle UNKNOWN messages after checking with the provider')
    .addOption(new Option('--as <resolution>', 'sent: it arrived; failed: it did not (lead stops); resend: queue it again').choices(['sent', 'failed', 'resend']).makeOptionMandatory())
    .option('--by <name>', 'who resolves', 'cli')
    .action(async (ids: string[], options: { as: 'sent' | 'failed' | 'resend'; by: string }) => {
      await withContext(async (ctx) => {
        const wanted = ids.map(parseId);
        const resolved = await unknownService(ctx).resolve(wanted, options.as, options.by);
        const skipped = wanted.filter((id) => !resolved.includes(id));
        print(`resolved ${resolved.length} message(s) as ${options.as}${skipped.length > 0 ? `; not UNKNOWN (left alone): ${skipped.join(', ')}` : ''}`, false);
        if (skipped.length > 0) process.exitCode = 1;
      });
    });
}
