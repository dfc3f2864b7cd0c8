import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { systemClock } from '../core/clock.js';
import { cliActor, CliError, parseId, print, withDataActions, withDb } from './cli-support.js';
import type { Attribution } from '../leads/lead-row.js';

/** The import command's flags: the attribution given to every row, and how to run. */
type ImportFlags = Omit<Attribution, 'referrer'> & {
  map: string[];
  force?: boolean;
  json?: boolean;
};

const collect = (value: string, previous: string[]) => [...previous, value];

/** `drumbeat leads …`: import (streaming, with progress), imports, show, forget, export. */
export function registerLeadCommands(program: Command): void {
  const leads = program.command('leads').description('leads: import, audit, timeline, erasure');

  leads
    .command('import <campaignId> <file>')
    .description('import leads from a CSV file (streamed; , ; or tab; headers mapped automatically)')
    .option('--map <column=field>', 'map a column to a lead field (repeatable; field - ignores the column)', collect, [])
    .option('--force', 'import even if the same file content was imported into this campaign before')
    .option('--source <source>', 'attribution source for rows without one', 'import')
    .option('--source-ref <ref>', 'attribution reference (e.g. the CRM list id)')
    .option('--utm-source <value>')
    .option('--utm-medium <value>')
    .option('--utm-campaign <value>')
    .option('--utm-content <value>')
    .option('--utm-term <value>')
    .addOption(new Option('--consent <consent>', 'consent of rows without a consent column').choices(['UNKNOWN', 'GRANTED', 'DENIED']))
    .option('--json', 'print the report as JSON')
    .action(async (campaignId: string, file: string, flags: ImportFlags) => {
      const [{ parseColumnMap, ColumnMappingError }, { importLeadsCsv }, { default: cliProgress }] = await Promise.all([
        import('../leads/lead-row.js'),
        import('../leads/lead-import.js'),
        import('cli-progress'),
      ]);
      let columnMap;
      try {
        columnMap = parseColumnMap(flags.map);
      } catch (error) {
        if (error instanceof ColumnMappingError) throw new CliError(error.message);
        throw error;
      }
      const size = (await stat(file).catch(() => {
        throw new CliError(`cannot read ${file}`);
      })).size;
      const attribution: Attribution = {
        source: flags.source,
        sourceRef: flags.sourceRef,
        utmSource: flags.utmSource,
        utmMedium: flags.utmMedium,
        utmCampaign: flags.utmCampaign,
        utmContent: flags.utmContent,
        utmTerm: flags.utmTerm,
        consent: flags.consent,
      };
      const bar =
        flags.json !== true && process.stderr.isTTY
          ? new cliProgress.SingleBar({ stream: process.stderr, format: 'importing [{bar}] {percentage}% | {rows} rows' }, cliProgress.Presets.shades_classic)
          : undefined;
      bar?.start(size, 0, { rows: 0 });
      await withDb(async (db) => {
        const report = await importLeadsCsv(
          { db, clock: systemClock },
          {
            campaignId: parseId(campaignId),
            path: file,
            fileName: basename(file),
            createdBy: cliActor(),
            force: flags.force,
            columnMap,
            attribution,
            onProgress: (counts, bytes) => bar?.update(bytes, { rows: counts.total }),
          },
        ).finally(() => bar?.stop());
        if (flags.json === true) return print(report, true);
        if (report.outcome === 'already-imported') {
          print(`this file was already imported into campaign ${campaignId} (batch ${report.batchId}); nothing done (use --force to import again)`, false);
          return;
        }
        print(
          `batch ${report.batchId}: imported ${report.imported}, duplicates ${report.duplicates}, invalid ${report.invalid}, suppressed ${report.suppressed} (of ${report.total} rows)`,
          false,
        );
        for (const error of report.errors.slice(0, 50)) print(`  line ${error.line}: ${error.reason}`, false);
        const hidden = report.invalid - Math.min(50, report.errors.length);
        if (hidden > 0) print(`  … and ${hidden} more: drumbeat leads imports ${campaignId} --errors ${report.batchId}`, false);
      });
    });

  leads
    .command('imports <campaignId>')
    .description("list a campaign's import batches, or print one batch's error report as CSV")
    .option('--errors <batchId>', 'print the error report (CSV: line, reason) of this batch')
    .option('--json', 'print as JSON')
    .action(async (campaignId: string, flags: { errors?: string; json?: boolean }) => {
      const [{ findImportBatch, listImportBatches }, { errorReportCsv }] = await Promise.all([import('../leads/import-batch-store.js'), import('../leads/lead-export.js')]);
      await withDb(async (db) => {
        if (flags.errors !== undefined) {
          const batch = await findImportBatch(db, parseId(flags.errors));
          if (batch === undefined || batch.campaignId !== parseId(campaignId)) throw new CliError(`no import batch ${flags.errors} in campaign ${campaignId}`);
          process.stdout.write(errorReportCsv(batch.errors));
          return;
        }
        const batches = await listImportBatches(db, parseId(campaignId));
        if (flags.json === true) return print(batches, true);
        print('id\tstatus\ttotal\timported\tduplicates\tinvalid\tsuppressed\tby\tcreated\tfile\tsha256', false);
        for (const batch of batches) {
          print(
            [batch.id, batch.status, batch.total, batch.imported, batch.duplicates, batch.invalid, batch.suppressed, batch.createdBy ?? '', batch.createdAt.toISOString(), batch.fileName, batch.fileHash.slice(0, 12)].join('\t'),
            false,
          );
        }
      });
    });

  leads
    .command('export <campaignId>')
    .description("print a campaign's leads as CSV (formula cells neutralised)")
    .action(async (campaignId: string) => {
      const { writeLeadsCsv } = await import('../leads/lead-export.js');
      await withDb(async (db) => {
        await writeLeadsCsv(db, parseId(campaignId), process.stdout);
      });
    });

  leads
    .command('show <email>')
    .description("print a lead's record, enrollments, messages, timeline and suppressions")
    .option('--json', 'print as JSON')
    .action(async (email: string, flags: { json?: boolean }) => {
      const { leadTimeline } = await import('../leads/lead-privacy.js');
      await withDb(async (db) => {
        const timeline = await leadTimeline(db, email);
        if (timeline.lead === undefined) {
          const suppressed = timeline.suppressions.map((entry) => `${entry.kind}${entry.campaignId === null ? '' : ` in campaign ${entry.campaignId}`} (${entry.reason})`);
          throw new CliError(`no lead with the address ${email}${suppressed.length === 0 ? '' : `; it is suppressed by ${suppressed.join(', ')}`}`);
        }
        if (flags.json === true) return print(timeline, true);
        const lead = timeline.lead;
        print(`lead ${lead.id} ${lead.email ?? '(erased)'} consent ${lead.consent} source ${lead.source ?? '-'}`, false);
        for (const enrollment of timeline.enrollments) {
          const where = enrollment.step > enrollment.steps ? `after step ${enrollment.steps} of ${enrollment.steps}` : `at step ${enrollment.step} of ${enrollment.steps}`;
          print(`  campaign ${enrollment.campaignId} "${enrollment.campaign}": ${enrollment.state} ${where}${enrollment.endReason === null ? '' : ` (${enrollment.endReason})`}`, false);
        }
        for (const message of timeline.messages) {
          print(`  message ${message.id} c${message.campaignId} step ${message.step} ${message.channel}: ${message.status}${message.skipReason === null ? '' : ` (${message.skipReason})`}`, false);
        }
        for (const event of timeline.events) print(`  ${event.occurredAt.toISOString()} ${event.type}${event.campaignId === null ? '' : ` c${event.campaignId}`}`, false);
        for (const entry of timeline.suppressions) {
          print(`  suppressed by ${entry.kind}${entry.campaignId === null ? ' everywhere' : ` in campaign ${entry.campaignId}`}: ${entry.reason}`, false);
        }
      });
    });

  leads
    .command('forget <email>')
    .description('erase a person’s data everywhere; their identity hash stays suppressed')
    .action(async (email: string) => {
      await withDataActions(async (actions) => {
        const { found } = await actions.forgetLead(email);
        print(found ? 'erased; the identity stays suppressed' : 'no lead with that address; its identity is now suppressed', false);
      });
    });
}
