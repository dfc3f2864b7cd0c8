import type { Knex } from 'knex';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { DomainError, NotFoundError, type DomainErrorKind } from '../core/domain-error.js';
import { channelSchema, type Channel } from '../core/channels.js';
import { bodyFormatSchema, type BodyFormat } from '../core/message-body.js';
import { TemplateValidationError, validateTemplate } from './validate.js';
import {
  advanceVersion,
  findTemplate,
  findTemplateInScope,
  insertTemplate,
  insertVersion,
  listTemplates,
  listVersions,
  resolveTemplateName,
  setTemplateActive,
  templateUsage,
  type Template,
  type TemplateVersion,
} from './template-store.js';

/** A request the registry refuses: unknown template, name taken, concurrent save. */
export class TemplateRegistryError extends DomainError {
  constructor(message: string, kind: Extract<DomainErrorKind, 'not-found' | 'conflict'>) {
    super(message, kind);
  }
}

const customFieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a custom field name is letters, digits and _');

/** A new template as operators send it (CLI and API). */
export const newTemplateSchema = z
  .object({
    name: z.string().trim().regex(/^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/, 'lower-case letters, digits and single - _ . separators').max(100),
    channel: channelSchema,
    campaignId: z.number().int().positive().nullable().default(null),
    subject: z.string().refine((value) => !/[\r\n]/.test(value), 'subject may not contain line breaks').nullable().default(null),
    body: z.string().min(1),
    /** `text` (values as they are) or `html` (values HTML-escaped; email only). */
    format: bodyFormatSchema.default('text'),
    customFields: z.array(customFieldName).default([]),
  })
  .strict();
export type NewTemplate = z.input<typeof newTemplateSchema>;

/** A new version of a template's text. */
export const templateUpdateSchema = z
  .object({
    subject: z.string().refine((value) => !/[\r\n]/.test(value), 'subject may not contain line breaks').nullable().optional(),
    body: z.string().min(1),
    /** Default: the current version's format. */
    format: bodyFormatSchema.optional(),
    customFields: z.array(customFieldName).optional(),
  })
  .strict();
export type TemplateUpdate = z.input<typeof templateUpdateSchema>;

export interface TemplateServiceDeps {
  db: Knex;
  clock: Clock;
  /** Whether a campaign exists (campaigns sit above templates: the root passes their store's lookup). */
  campaignExists: (campaignId: number) => Promise<boolean>;
}

/**
 * The template registry: every save validates (compiles, only known variables) and writes a
 * new immutable version; messages record the version they were rendered from.
 */
export function templateService({ db, clock, campaignExists }: TemplateServiceDeps) {
  function check(channel: Channel, subject: string | null, body: string, format: BodyFormat, customFields: readonly string[]): void {
    if (format === 'html' && channel !== 'email') {
      throw new TemplateValidationError([{ part: 'body', line: undefined, message: `a ${channel} template is plain text; only email templates can be html` }]);
    }
    validateTemplate({ subject, body, customFields });
  }

  async function require(id: number): Promise<Template> {
    const template = await findTemplate(db, id);
    if (template === undefined) throw new TemplateRegistryError(`template ${id} does not exist`, 'not-found');
    return template;
  }

  return {
    require,

    /** Finds a template by name in a scope (global when `campaignId` is null). */
    async byName(name: string, campaignId: number | null = null): Promise<Template> {
      const template = await findTemplateInScope(db, name, campaignId);
      if (template === undefined) {
        throw new TemplateRegistryError(`template "${name}" does not exist${campaignId === null ? ' (global)' : ` in campaign ${campaignId}`}`, 'not-found');
      }
      return template;
    },

    /** Resolves a name as a campaign sees it: the campaign's own template first, else the global one. */
    async resolve(name: string, campaignId: number | null): Promise<Template> {
      const template = await resolveTemplateName(db, name, campaignId);
      if (template === undefined) throw new TemplateRegistryError(`template "${name}" does not exist`, 'not-found');
      return template;
    },

    /**
     * Registers a template with its first version.
     * @throws TemplateValidationError when it does not compile or uses an unknown variable.
     */
    async add(input: unknown, createdBy: string): Promise<{ template: Template; version: TemplateVersion }> {
      const spec = newTemplateSchema.parse(input);
      check(spec.channel, spec.subject, spec.body, spec.format, spec.customFields);
      if (spec.campaignId !== null && !(await campaignExists(spec.campaignId))) throw new NotFoundError(`campaign ${spec.campaignId} does not exist`);
      const now = clock.now();
      return db.transaction(async (trx) => {
        const template = await insertTemplate(trx, { ...spec, now });
        if (template === undefined) {
          throw new TemplateRegistryError(
            `a template named "${spec.name}" already exists${spec.campaignId === null ? ' (global)' : ` in campaign ${spec.campaignId}`}`,
            'conflict',
          );
        }
        const version = await insertVersion(trx, { templateId: template.id, version: 1, subject: spec.subject, body: spec.body, format: spec.format, createdBy, now });
        return { template, version };
      });
    },

    /** Saves a new version (the previous ones stay, and messages keep pointing at theirs). */
    async update(id: number, input: unknown, createdBy: string): Promise<{ template: Template; version: TemplateVersion }> {
      const change = templateUpdateSchema.parse(input);
      const current = await require(id);
      const customFields = change.customFields ?? current.customFields;
      const previous = (await listVersions(db, id)).find((version) => version.version === current.currentVersion);
      const subject = change.subject === undefined ? (previous?.subject ?? null) : change.subject;
      const format = change.format ?? previous?.format ?? 'text';
      check(current.channel, subject, change.body, format, customFields);
      const now = clock.now();
      return db.transaction(async (trx) => {
        if (!(await advanceVersion(trx, id, current.currentVersion, { customFields, now }))) {
          throw new TemplateRegistryError(`template ${id} was saved by someone else meanwhile; reload and retry`, 'conflict');
        }
        const version = await insertVersion(trx, { templateId: id, version: current.currentVersion + 1, subject, body: change.body, format, createdBy, now });
        return { template: { ...current, currentVersion: version.version, customFields, updatedAt: now }, version };
      });
    },

    async setActive(id: number, active: boolean): Promise<Template> {
      const template = await setTemplateActive(db, id, active, clock.now());
      if (template === undefined) throw new TemplateRegistryError(`template ${id} does not exist`, 'not-found');
      return template;
    },

    /** A template with every version and its usage (renders per version). */
    async show(id: number) {
      const template = await require(id);
      return { template, versions: await listVersions(db, id), usage: await templateUsage(db, id) };
    },

    list(filter: { campaignId?: number } = {}): Promise<Template[]> {
      return listTemplates(db, filter);
    },
  };
}

export type TemplateService = ReturnType<typeof templateService>;
