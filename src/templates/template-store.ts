import type { Knex } from 'knex';
import type { Channel } from '../core/channels.js';
import type { BodyFormat } from '../core/message-body.js';

export const TEMPLATES = 'templates';
export const TEMPLATE_VERSIONS = 'template_versions';
export const TEMPLATE_RENDERS = 'template_renders';

/** A registered template; its text lives in {@link TemplateVersion}s. */
export interface Template {
  id: number;
  name: string;
  channel: Channel;
  /** null for a global template. */
  campaignId: number | null;
  active: boolean;
  currentVersion: number;
  customFields: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** One saved text of a template; every save is a new version, never changed afterwards. */
export interface TemplateVersion {
  id: number;
  templateId: number;
  version: number;
  subject: string | null;
  body: string;
  /** What the body is: text (values as they are) or html (values HTML-escaped). */
  format: BodyFormat;
  createdBy: string | null;
  createdAt: Date;
}

interface TemplateRow {
  id: number;
  name: string;
  channel: Channel;
  campaign_id: number | null;
  active: boolean;
  current_version: number;
  custom_fields: string[];
  created_at: Date;
  updated_at: Date;
}

interface VersionRow {
  id: number;
  template_id: number;
  version: number;
  subject: string | null;
  body: string;
  format: BodyFormat;
  created_by: string | null;
  created_at: Date;
}

export function rowToTemplate(row: TemplateRow): Template {
  return {
    id: row.id,
    name: row.name,
    channel: row.channel,
    campaignId: row.campaign_id,
    active: row.active,
    currentVersion: row.current_version,
    customFields: row.custom_fields,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function rowToVersion(row: VersionRow): TemplateVersion {
  return {
    id: row.id,
    templateId: row.template_id,
    version: row.version,
    subject: row.subject,
    body: row.body,
    format: row.format,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

/** Inserts a template row; returns undefined when the name is already taken in that scope. */
export async function insertTemplate(
  db: Knex,
  template: { name: string; channel: Channel; campaignId: number | null; customFields: readonly string[]; now: Date },
): Promise<Template | undefined> {
  const { rows } = await db.raw<{ rows: TemplateRow[] }>(
    `INSERT INTO templates (name, channel, campaign_id, custom_fields, current_version, created_at, updated_at)
     VALUES (?, ?, ?, ?::jsonb, 1, ?, ?)
     ON CONFLICT (name, coalesce(campaign_id, 0)) DO NOTHING
     RETURNING *`,
    [template.name, template.channel, template.campaignId, JSON.stringify(template.customFields), template.now, template.now],
  );
  return rows[0] === undefined ? undefined : rowToTemplate(rows[0]);
}

export async function insertVersion(
  db: Knex,
  version: { templateId: number; version: number; subject: string | null; body: string; format: BodyFormat; createdBy: string | null; now: Date },
): Promise<TemplateVersion> {
  const [row] = (await db(TEMPLATE_VERSIONS)
    .insert({
      template_id: version.templateId,
      version: version.version,
      subject: version.subject,
      body: version.body,
      format: version.format,
      created_by: version.createdBy,
      created_at: version.now,
    })
    .returning('*')) as VersionRow[];
  if (row === undefined) throw new Error('template version insert returned nothing');
  return rowToVersion(row);
}

/** Compare-and-set of the current version; returns false when another save got there first. */
export async function advanceVersion(
  db: Knex,
  id: number,
  from: number,
  change: { customFields: readonly string[]; now: Date },
): Promise<boolean> {
  const updated = await db(TEMPLATES)
    .where({ id, current_version: from })
    .update({ current_version: from + 1, custom_fields: JSON.stringify(change.customFields), updated_at: change.now });
  return updated === 1;
}

export async function setTemplateActive(db: Knex, id: number, active: boolean, now: Date): Promise<Template | undefined> {
  const [row] = (await db(TEMPLATES).where({ id }).update({ active, updated_at: now }).returning('*')) as TemplateRow[];
  return row === undefined ? undefined : rowToTemplate(row);
}

export async function findTemplate(db: Knex, id: number): Promise<Template | undefined> {
  const row = (await db(TEMPLATES).where({ id }).first()) as TemplateRow | undefined;
  return row === undefined ? undefined : rowToTemplate(row);
}

/** The template of that name in exactly that scope (a campaign, or global when null). */
export async function findTemplateInScope(db: Knex, name: string, campaignId: number | null): Promise<Template | undefined> {
  const query = db(TEMPLATES).where({ name });
  const row = (await (campaignId === null ? query.whereNull('campaign_id') : query.where({ campaign_id: campaignId })).first()) as TemplateRow | undefined;
  return row === undefined ? undefined : rowToTemplate(row);
}

/** Resolves a name as a campaign sees it: its own template of that name first, else the global one. */
export async function resolveTemplateName(db: Knex, name: string, campaignId: number | null): Promise<Template | undefined> {
  const row = (await db(TEMPLATES)
    .where({ name })
    .where((scope) => {
      void scope.whereNull('campaign_id');
      if (campaignId !== null) void scope.orWhere({ campaign_id: campaignId });
    })
    .orderByRaw('campaign_id IS NULL')
    .first()) as TemplateRow | undefined;
  return row === undefined ? undefined : rowToTemplate(row);
}

export async function listTemplates(db: Knex, filter: { campaignId?: number } = {}): Promise<Template[]> {
  const query = db(TEMPLATES).orderBy(['name', 'id']);
  if (filter.campaignId !== undefined) void query.where((scope) => void scope.whereNull('campaign_id').orWhere({ campaign_id: filter.campaignId }));
  return ((await query) as TemplateRow[]).map(rowToTemplate);
}

export async function listVersions(db: Knex, templateId: number): Promise<TemplateVersion[]> {
  return ((await db(TEMPLATE_VERSIONS).where({ template_id: templateId }).orderBy('version')) as VersionRow[]).map(rowToVersion);
}

/** The current version of each template, with the template, in one query. */
export async function currentVersions(db: Knex, templateIds: readonly number[]): Promise<Map<number, { template: Template; version: TemplateVersion }>> {
  if (templateIds.length === 0) return new Map();
  const rows = (await db(`${TEMPLATES} as t`)
    .join(`${TEMPLATE_VERSIONS} as v`, function () {
      this.on('v.template_id', 't.id').andOn('v.version', 't.current_version');
    })
    .whereIn('t.id', [...new Set(templateIds)])
    .select('t.*', db.raw('row_to_json(v.*) AS version_row'))) as Array<TemplateRow & { version_row: VersionRow & { created_at: string } }>;
  return new Map(
    rows.map((row) => [
      row.id,
      { template: rowToTemplate(row), version: rowToVersion({ ...row.version_row, created_at: new Date(row.version_row.created_at) }) },
    ]),
  );
}

/** One render log entry: which version made which message, and hashes of its input and output. */
export interface RenderLogEntry {
  templateVersionId: number;
  messageId: number | null;
  contextHash: string;
  outputHash: string;
  now: Date;
}

/** Appends render log entries in one multi-row insert. */
export async function logRenders(db: Knex, entries: readonly RenderLogEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db(TEMPLATE_RENDERS).insert(
    entries.map((entry) => ({
      template_version_id: entry.templateVersionId,
      message_id: entry.messageId,
      context_hash: entry.contextHash,
      output_hash: entry.outputHash,
      created_at: entry.now,
    })),
  );
}

/** How often each version of a template has been rendered (the usage count). */
export async function templateUsage(db: Knex, templateId: number): Promise<{ renders: number; byVersion: Array<{ version: number; renders: number }> }> {
  const rows = (await db(`${TEMPLATE_RENDERS} as r`)
    .join(`${TEMPLATE_VERSIONS} as v`, 'v.id', 'r.template_version_id')
    .where('v.template_id', templateId)
    .groupBy('v.version')
    .orderBy('v.version')
    .select('v.version', db.raw('count(*)::int AS renders'))) as Array<{ version: number; renders: number }>;
  return { renders: rows.reduce((sum, row) => sum + row.renders, 0), byVersion: rows };
}
