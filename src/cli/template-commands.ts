import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { cliActor, parseId, parsePositive, print, withContext } from './cli-support.js';
import type { AppContext } from '../runtime/context.js';
import type { Preview } from '../messages/preview.js';
import type { Template } from '../templates/template-store.js';

function customFields(list: string | undefined): string[] | undefined {
  return list === undefined ? undefined : list.split(',').map((field) => field.trim()).filter((field) => field !== '');
}

function printPreview(preview: Preview, json: boolean | undefined): void {
  if (json === true) {
    print(preview, true);
    return;
  }
  const head = [
    `channel: ${preview.channel}`,
    `format: ${preview.format}`,
    preview.variant === null ? undefined : `variant: ${preview.variant}`,
    `template version id: ${preview.templateVersionId ?? '-'}`,
  ];
  print(head.filter((line) => line !== undefined).join('\n'), false);
  if (preview.subject !== null) print(`subject: ${preview.subject}`, false);
  if (preview.inReplyTo !== null) print(`in reply to: ${preview.inReplyTo}`, false);
  if (preview.body !== null) print(`\n${preview.body}\n`, false);
  print(preview.sendable ? 'sendable: yes' : `sendable: NO — ${preview.reason ?? ''}`, false);
}

async function byName(ctx: AppContext, name: string, campaign: string | undefined): Promise<Template> {
  return ctx.templates.byName(name, campaign === undefined ? null : parseId(campaign));
}

/** `drumbeat template …`: the template registry (add, update, show, list, deactivate, preview, test-send). */
export function registerTemplateCommands(program: Command): void {
  const template = program.command('template').description('message templates (Eta), versioned; text is read from files');
  registerTemplateEdits(template);
  registerTemplateReads(template);
}

/** `template add`, `template update`, `template show`. */
function registerTemplateEdits(template: Command): void {
  template
    .command('add <name>')
    .description('register a template; it must compile and use only known variables')
    .requiredOption('--channel <channel>', 'email, linkedin, x or instagram')
    .requiredOption('--body <file>', 'the body template file')
    .option('--subject <text>', 'the subject template (email)')
    .option('--format <format>', 'text (values as they are) or html (values HTML-escaped; email only)', 'text')
    .option('--campaign <id>', 'scope it to one campaign (default: global)')
    .option('--custom-fields <names>', 'comma-separated custom lead fields it may use (it.lead.custom.<name>)')
    .action(async (name: string, options: { channel: string; body: string; subject?: string; format: string; campaign?: string; customFields?: string }) => {
      const body = await readFile(options.body, 'utf8');
      await withContext(async (ctx) => {
        const saved = await ctx.templates.add(
          {
            name,
            channel: options.channel,
            campaignId: options.campaign === undefined ? null : parseId(options.campaign),
            subject: options.subject ?? null,
            body,
            format: options.format,
            customFields: customFields(options.customFields) ?? [],
          },
          cliActor(),
        );
        print(`template ${saved.template.name} (id ${saved.template.id}) saved as version 1`, false);
      });
    });

  template
    .command('update <name>')
    .description('save a new version of a template')
    .requiredOption('--body <file>', 'the body template file')
    .option('--subject <text>', 'a new subject (default: keep the current one)')
    .option('--format <format>', 'text or html (default: keep the current one)')
    .option('--campaign <id>', 'the campaign the template belongs to (default: global)')
    .option('--custom-fields <names>', 'comma-separated custom lead fields (default: keep)')
    .action(async (name: string, options: { body: string; subject?: string; format?: string; campaign?: string; customFields?: string }) => {
      const body = await readFile(options.body, 'utf8');
      await withContext(async (ctx) => {
        const found = await byName(ctx, name, options.campaign);
        const fields = customFields(options.customFields);
        const saved = await ctx.templates.update(
          found.id,
          {
            body,
            ...(options.subject === undefined ? {} : { subject: options.subject }),
            ...(options.format === undefined ? {} : { format: options.format }),
            ...(fields === undefined ? {} : { customFields: fields }),
          },
          cliActor(),
        );
        print(`template ${name} saved as version ${saved.version.version}`, false);
      });
    });

  template
    .command('show <name>')
    .description('show a template, its versions and usage')
    .option('--campaign <id>', 'the campaign the template belongs to (default: global)')
    .option('--json', 'print as JSON')
    .action(async (name: string, options: { campaign?: string; json?: boolean }) => {
      await withContext(async (ctx) => {
        const shown = await ctx.templates.show((await byName(ctx, name, options.campaign)).id);
        if (options.json === true) {
          print(shown, true);
          return;
        }
        const { template: found, versions, usage } = shown;
        print(
          `${found.name} (id ${found.id}, ${found.channel}, ${found.campaignId === null ? 'global' : `campaign ${found.campaignId}`}, ${found.active ? 'active' : 'INACTIVE'}) version ${found.currentVersion}, rendered ${usage.renders} time(s)`,
          false,
        );
        const current = versions.find((version) => version.version === found.currentVersion);
        if (current !== undefined) print(`format: ${current.format}`, false);
        if (current?.subject != null) print(`subject: ${current.subject}`, false);
        if (current !== undefined) print(`\n${current.body}`, false);
        for (const version of versions) print(`  v${version.version} by ${version.createdBy ?? '-'} at ${version.createdAt.toISOString()}`, false);
      });
    });

}

/** `template list`, `template preview`, `template test-send`. */
function registerTemplateReads(template: Command): void {
  template
    .command('list')
    .description('list templates (global, and the campaign’s own with --campaign)')
    .option('--campaign <id>', 'include this campaign’s templates')
    .option('--json', 'print as JSON')
    .action(async (options: { campaign?: string; json?: boolean }) => {
      await withContext(async (ctx) => {
        const templates = await ctx.templates.list(options.campaign === undefined ? {} : { campaignId: parseId(options.campaign) });
        if (options.json === true) print(templates, true);
        else {
          for (const row of templates) {
            print(`${row.id}\t${row.name}\t${row.channel}\t${row.campaignId ?? 'global'}\tv${row.currentVersion}\t${row.active ? 'active' : 'inactive'}`, false);
          }
        }
      });
    });

  for (const [action, active] of [
    ['deactivate', false],
    ['activate', true],
  ] as const) {
    template
      .command(`${action} <name>`)
      .description(active ? 'allow the template to be rendered again' : 'stop the template being rendered (its messages are skipped)')
      .option('--campaign <id>', 'the campaign the template belongs to (default: global)')
      .action(async (name: string, options: { campaign?: string }) => {
        await withContext(async (ctx) => {
          const changed = await ctx.templates.setActive((await byName(ctx, name, options.campaign)).id, active);
          print(`template ${changed.name} is ${changed.active ? 'active' : 'inactive'}`, false);
        });
      });
  }

  template
    .command('preview <name>')
    .description('render a template exactly as a lead would get it')
    .requiredOption('--lead <email>', 'the lead (email or id)')
    .option('--campaign <id>', 'the campaign for it.campaign.* (and where a campaign-scoped template lives)')
    .option('--version <n>', 'a past version', parsePositive)
    .option('--json', 'print as JSON')
    .action(async (name: string, options: { lead: string; campaign?: string; version?: number; json?: boolean }) => {
      const { previewTemplate } = await import('../messages/preview.js');
      await withContext(async (ctx) => {
        const found = await ctx.templates.resolve(name, options.campaign === undefined ? null : parseId(options.campaign));
        const preview = await previewTemplate(ctx.db, found.id, options.lead, {
          ...(options.campaign === undefined ? {} : { campaignId: parseId(options.campaign) }),
          ...(options.version === undefined ? {} : { version: options.version }),
        });
        printPreview(preview, options.json);
      });
    });

  template
    .command('test-send <name>')
    .description('send one rendered email to an operator address through the LIVE email adapter')
    .requiredOption('--to <address>', 'where to send it (not a lead)')
    .option('--lead <email>', 'render with this lead’s fields (default: a sample lead)')
    .option('--campaign <id>', 'the campaign for it.campaign.* and the sender')
    .option('--from <address>', 'the sender address (default: the campaign’s)')
    .action(async (name: string, options: { to: string; lead?: string; campaign?: string; from?: string }) => {
      const { sendTemplateTest } = await import('../messages/preview.js');
      await withContext(async (ctx) => {
        const campaignId = options.campaign === undefined ? undefined : parseId(options.campaign);
        const found = await ctx.templates.resolve(name, campaignId ?? null);
        const { result } = await sendTemplateTest(
          { db: ctx.db, adapter: ctx.liveAdapters.email, timeoutMs: ctx.config.SEND_TIMEOUT, publicUrl: ctx.config.PUBLIC_URL },
          {
            templateId: found.id,
            to: options.to,
            ...(options.lead === undefined ? {} : { lead: options.lead }),
            ...(campaignId === undefined ? {} : { campaignId }),
            ...(options.from === undefined ? {} : { fromEmail: options.from }),
          },
        );
        print(`test email sent to ${options.to} via ${result.provider} (${result.externalId})`, false);
      });
    });
}
