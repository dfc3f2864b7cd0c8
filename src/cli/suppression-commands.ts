import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { CliError, parseId, print, withDataActions, withDb } from './cli-support.js';
import type { SuppressionKind } from '../suppression/suppression-store.js';

interface ScopeFlags {
  campaign?: string;
  reason: string;
}

function scope(flags: { campaign?: string }): number | null {
  return flags.campaign === undefined ? null : parseId(flags.campaign);
}

/** `drumbeat suppress …`: add, remove, list, import. */
export function registerSuppressionCommands(program: Command): void {
  const command = program.command('suppress').description('suppressions: addresses, domains and identity hashes never written to');

  command
    .command('add <target>')
    .description('suppress an email address, an @domain or an identity hash (everywhere, or in one campaign)')
    .option('--reason <reason>', 'why', 'manual')
    .option('--campaign <id>', 'only in this campaign')
    .action(async (target: string, flags: ScopeFlags) => {
      const { SuppressionTargetError } = await import('../suppression/suppression-service.js');
      await withDataActions(async (actions) => {
        try {
          const stored = await actions.suppress(target, { reason: flags.reason, campaignId: scope(flags) });
          print(`suppressed ${stored.kind} ${stored.value}${flags.campaign === undefined ? '' : ` in campaign ${flags.campaign}`}`, false);
        } catch (error) {
          if (error instanceof SuppressionTargetError) throw new CliError(error.message);
          throw error;
        }
      });
    });

  command
    .command('remove <target>')
    .description('lift a suppression (of the same scope)')
    .option('--campaign <id>', 'the campaign scope it was added with')
    .action(async (target: string, flags: { campaign?: string }) => {
      const { SuppressionTargetError } = await import('../suppression/suppression-service.js');
      await withDataActions(async (actions) => {
        try {
          const removed = await actions.unsuppress(target, scope(flags));
          if (removed === 0) throw new CliError(`no such suppression: ${target}`);
          print(`removed ${removed} suppression entr${removed === 1 ? 'y' : 'ies'}`, false);
        } catch (error) {
          if (error instanceof SuppressionTargetError) throw new CliError(error.message);
          throw error;
        }
      });
    });

  command
    .command('list')
    .description('list suppressions')
    .option('--kind <kind>', 'email, domain or identity')
    .option('--campaign <id>', 'only this campaign scope')
    .option('--json', 'print as JSON')
    .action(async (flags: { kind?: string; campaign?: string; json?: boolean }) => {
      if (flags.kind !== undefined && !['email', 'domain', 'identity'].includes(flags.kind)) throw new CliError('--kind takes email, domain or identity');
      const { listSuppressions } = await import('../suppression/suppression-store.js');
      await withDb(async (db) => {
        let afterId = 0;
        for (;;) {
          const page = await listSuppressions(db, {
            kind: flags.kind as SuppressionKind | undefined,
            campaignId: flags.campaign === undefined ? undefined : parseId(flags.campaign),
            afterId,
            limit: 1000,
          });
          if (page.length === 0) return;
          for (const entry of page) {
            if (flags.json === true) print(JSON.stringify(entry), false);
            else print(`${entry.id}\t${entry.kind}\t${entry.value}\t${entry.campaignId ?? 'global'}\t${entry.reason}\t${entry.createdAt.toISOString()}`, false);
          }
          afterId = page[page.length - 1]?.id ?? afterId;
        }
      });
    });

  command
    .command('import <file>')
    .description('suppress every address, @domain or identity hash in a file (one per line, or the first CSV column)')
    .option('--reason <reason>', 'why', 'import')
    .option('--campaign <id>', 'only in this campaign')
    .action(async (file: string, flags: ScopeFlags) => {
      await withDataActions(async (actions) => {
        const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
        const { added, refused } = await actions.importSuppressions(basename(file), lines, { reason: flags.reason, campaignId: scope(flags) });
        print(`suppressed ${added}; refused ${refused.length}`, false);
        for (const reason of refused.slice(0, 50)) print(`  ${reason}`, false);
        if (refused.length > 0) process.exitCode = 1;
      });
    });
}
