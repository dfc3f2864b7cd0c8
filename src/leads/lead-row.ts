import { z } from 'zod';
import { replaceUnsafeText, safeText, unsafeTextIn } from '../core/safe-text.js';
import { DomainError } from '../core/domain-error.js';
import { isEmailAddress } from '../core/email-address.js';
import type { Consent, NewLead } from './lead-store.js';

/** The lead fields a column can map to (`--map column=field`); anything else is a custom field. */
export const leadFields = [
  'email',
  'first_name',
  'last_name',
  'company',
  'timezone',
  'linkedin',
  'x',
  'instagram',
  'source',
  'source_ref',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'referrer',
  'consent',
] as const;

export type LeadField = (typeof leadFields)[number];

/** A header as compared: no BOM, lower case, without spaces, dashes, dots and underscores. */
export function headerKey(header: string): string {
  return header.replace(/^\uFEFF/, '').toLowerCase().replace(/[\s_.-]/g, '');
}

/** Header spellings seen in CRM and spreadsheet exports, by {@link headerKey}. */
const headerAliases: Record<string, LeadField> = {
  email: 'email',
  emailaddress: 'email',
  mail: 'email',
  workemail: 'email',
  firstname: 'first_name',
  first: 'first_name',
  givenname: 'first_name',
  forename: 'first_name',
  lastname: 'last_name',
  last: 'last_name',
  surname: 'last_name',
  familyname: 'last_name',
  company: 'company',
  companyname: 'company',
  organisation: 'company',
  organization: 'company',
  account: 'company',
  timezone: 'timezone',
  tz: 'timezone',
  linkedin: 'linkedin',
  linkedinurl: 'linkedin',
  linkedinid: 'linkedin',
  x: 'x',
  twitter: 'x',
  xuserid: 'x',
  instagram: 'instagram',
  instagramuserid: 'instagram',
  source: 'source',
  leadsource: 'source',
  sourceref: 'source_ref',
  utmsource: 'utm_source',
  utmmedium: 'utm_medium',
  utmcampaign: 'utm_campaign',
  utmcontent: 'utm_content',
  utmterm: 'utm_term',
  referrer: 'referrer',
  referer: 'referrer',
  consent: 'consent',
  optin: 'consent',
};

/** Raised for a `--map` entry or header set that cannot work (answered before any row is read). */
export class ColumnMappingError extends DomainError {
  constructor(message: string) {
    super(message, 'invalid');
  }
}

/** Parses `--map column=field` entries (field `-` ignores the column). */
export function parseColumnMap(entries: readonly string[]): Map<string, LeadField | null> {
  const map = new Map<string, LeadField | null>();
  for (const entry of entries) {
    const at = entry.lastIndexOf('=');
    const column = entry.slice(0, at).trim();
    const field = entry.slice(at + 1).trim().toLowerCase();
    if (at <= 0 || column === '') throw new ColumnMappingError(`--map "${entry}" is not column=field`);
    if (field === '-') map.set(headerKey(column), null);
    else if ((leadFields as readonly string[]).includes(field)) map.set(headerKey(column), field as LeadField);
    else throw new ColumnMappingError(`--map "${entry}": "${field}" is not one of ${leadFields.join(', ')} or -`);
  }
  return map;
}

/** What each column of a file becomes: a lead field, a custom field (by its header) or nothing. */
export type ColumnPlan = Array<{ field: LeadField } | { custom: string } | null>;

/** Plans the columns of a header row: explicit mappings first, then the known spellings, else custom. */
export function planColumns(headers: readonly string[], explicit: ReadonlyMap<string, LeadField | null> = new Map()): ColumnPlan {
  const present = new Set(headers.map(headerKey));
  const unknown = [...explicit.keys()].filter((key) => !present.has(key));
  if (unknown.length > 0) {
    throw new ColumnMappingError(`--map names ${unknown.length === 1 ? 'a column' : 'columns'} the file does not have (${unknown.join(', ')}); its columns are: ${headers.map((header) => header.replace(/^\uFEFF/, '').trim()).join(', ')}`);
  }
  const used = new Set<LeadField>();
  const plan: ColumnPlan = headers.map((header) => {
    const key = headerKey(header);
    const field = explicit.has(key) ? explicit.get(key) : headerAliases[key];
    if (field === null) return null;
    if (field !== undefined && !used.has(field)) {
      used.add(field);
      return { field };
    }
    const name = header.replace(/^\uFEFF/, '').trim();
    return name === '' ? null : { custom: name };
  });
  for (const header of headers) {
    const found = unsafeTextIn(header);
    if (found !== undefined) throw new ColumnMappingError(`the header row holds ${found} in column ${JSON.stringify(header.replace(/[^\x20-\x7e]/g, '?'))}`);
  }
  if (!used.has('email')) throw new ColumnMappingError(`no email column among: ${headers.join(', ')} (use --map <column>=email)`);
  return plan;
}

/** Line breaks, real or written as escapes: either way they must not reach a mail header. */
const lineBreak = /[\r\n\u2028\u2029]|\\[rn]/;

const nameField = (label: string) =>
  safeText
    .trim()
    .max(200, `${label} is longer than 200 characters`)
    .refine((value) => !lineBreak.test(value), `${label} may not contain line breaks (CR/LF)`)
    .transform((value) => (value === '' ? null : value));

/** Free text: quoted line breaks are legal CSV, folded to one space so they never reach a header. */
const textField = safeText
  .max(2000, 'longer than 2000 characters')
  .transform((value) => value.replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' ').trim())
  .transform((value) => (value === '' ? null : value));

const consentValues: Record<string, Consent> = {
  yes: 'GRANTED',
  y: 'GRANTED',
  true: 'GRANTED',
  '1': 'GRANTED',
  granted: 'GRANTED',
  optin: 'GRANTED',
  no: 'DENIED',
  n: 'DENIED',
  false: 'DENIED',
  '0': 'DENIED',
  denied: 'DENIED',
  withdrawn: 'WITHDRAWN',
  unknown: 'UNKNOWN',
};

const consentField = safeText
  .trim()
  .transform((value, ctx) => {
    if (value === '') return undefined;
    const consent = consentValues[value.toLowerCase().replace(/[\s_-]/g, '')];
    if (consent === undefined) {
      ctx.addIssue({ code: 'custom', message: `consent "${value}" is not yes/no/granted/denied/withdrawn` });
      return z.NEVER;
    }
    return consent;
  });

/** One lead row, validated: every edge of the import goes through this schema. */
export const leadRowSchema = z.object({
  email: safeText
    .trim()
    .toLowerCase()
    .min(1, { message: 'email is missing', abort: true })
    .refine((value) => !lineBreak.test(value), 'email may not contain line breaks')
    .refine(isEmailAddress, 'not a valid email address'),
  first_name: nameField('first name').optional(),
  last_name: nameField('last name').optional(),
  company: textField.optional(),
  timezone: textField.optional(),
  linkedin: textField.optional(),
  x: textField.optional(),
  instagram: textField.optional(),
  source: textField.optional(),
  source_ref: textField.optional(),
  utm_source: textField.optional(),
  utm_medium: textField.optional(),
  utm_campaign: textField.optional(),
  utm_content: textField.optional(),
  utm_term: textField.optional(),
  referrer: textField.optional(),
  consent: consentField.optional(),
  custom: z.record(safeText, textField).default({}),
});

export type LeadRow = z.input<typeof leadRowSchema>;

/** Attribution applied to every lead of an import or capture where the row itself has none. */
export interface Attribution {
  source?: string;
  sourceRef?: string;
  utmSource?: string;
  utmMedium?: string;
  utmCampaign?: string;
  utmContent?: string;
  utmTerm?: string;
  referrer?: string;
  consent?: Consent;
}

/** The reason a row is refused, one line: `field: message; field: message`. */
export function rowErrorReason(error: z.ZodError): string {
  // A field name can be the bad text itself (a custom column): the reason must be storable.
  return replaceUnsafeText(error.issues.map((issue) => `${issue.path.join('.') || 'row'}: ${issue.message}`).join('; '));
}

/**
 * Validates one row (already keyed by field) into a lead, the batch attribution filling what
 * the row leaves empty.
 */
export function toNewLead(row: LeadRow, defaults: Attribution = {}): { ok: true; lead: NewLead } | { ok: false; reason: string } {
  const parsed = leadRowSchema.safeParse(row);
  if (!parsed.success) return { ok: false, reason: rowErrorReason(parsed.error) };
  const data = parsed.data;
  const custom: Record<string, string> = {};
  for (const [key, value] of Object.entries(data.custom)) if (value !== null) custom[key] = value;
  return {
    ok: true,
    lead: {
      email: data.email,
      firstName: data.first_name ?? null,
      lastName: data.last_name ?? null,
      company: data.company ?? null,
      timezone: data.timezone ?? null,
      linkedinId: data.linkedin ?? null,
      xUserId: data.x ?? null,
      instagramUserId: data.instagram ?? null,
      custom,
      source: data.source ?? defaults.source ?? null,
      sourceRef: data.source_ref ?? defaults.sourceRef ?? null,
      utmSource: data.utm_source ?? defaults.utmSource ?? null,
      utmMedium: data.utm_medium ?? defaults.utmMedium ?? null,
      utmCampaign: data.utm_campaign ?? defaults.utmCampaign ?? null,
      utmContent: data.utm_content ?? defaults.utmContent ?? null,
      utmTerm: data.utm_term ?? defaults.utmTerm ?? null,
      referrer: data.referrer ?? defaults.referrer ?? null,
      consent: data.consent ?? defaults.consent ?? 'UNKNOWN',
    },
  };
}

/** Keys one CSV record by the column plan. */
export function recordToRow(record: readonly string[], plan: ColumnPlan): LeadRow {
  const row: Record<string, unknown> & { custom: Record<string, string> } = { email: '', custom: {} };
  plan.forEach((column, index) => {
    const value = record[index];
    if (column === null || value === undefined) return;
    if ('field' in column) row[column.field] = value;
    else row.custom[column.custom] = value;
  });
  return row as LeadRow;
}
