import { z } from 'zod';
import { DomainError } from '../core/domain-error.js';

/**
 * The rules of an ICP segment: conditions over a lead's fields, all of which must hold. A
 * condition is data (field, operator, value) parsed by a small grammar and validated with zod;
 * it becomes SQL only through {@link segmentLabelSql}, with every value bound as a parameter and
 * every column taken from a fixed list, so no rule is ever evaluated as code.
 *
 * Comparisons ignore case and surrounding spaces; a missing field counts as empty text:
 * - `field=value`: equal (`company=` matches a lead without a company);
 * - `field!=value`: not equal (a lead without the field is not equal to any non-empty value);
 * - `field~=value`: contains;
 * - `field in a,b,c`: equal to one of them.
 */

/** The lead columns a condition may name; `custom.<key>` names a custom field. */
export const SEGMENT_LEAD_FIELDS = ['email', 'first_name', 'last_name', 'company', 'timezone', 'source', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'] as const;

const customField = /^custom\.[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const fieldSchema = z
  .string()
  .refine((field) => (SEGMENT_LEAD_FIELDS as readonly string[]).includes(field) || customField.test(field), {
    message: `a lead field (${SEGMENT_LEAD_FIELDS.join(', ')}) or custom.<key>`,
  });

const valueText = z.string().trim().max(500, 'at most 500 characters');

export const segmentConditionSchema = z.discriminatedUnion('op', [
  z.object({ field: fieldSchema, op: z.literal('='), value: valueText }).strict(),
  z.object({ field: fieldSchema, op: z.literal('!='), value: valueText }).strict(),
  z.object({ field: fieldSchema, op: z.literal('~='), value: valueText.min(1, 'contains needs some text') }).strict(),
  z.object({ field: fieldSchema, op: z.literal('in'), value: z.array(valueText.min(1, 'an empty item')).min(1).max(100) }).strict(),
]);
export type SegmentCondition = z.infer<typeof segmentConditionSchema>;

/** The stored rules of a segment (`segments.rules`): one or more conditions, ANDed. */
export const segmentRulesSchema = z.array(segmentConditionSchema).min(1, 'a segment needs at least one condition').max(20);
export type SegmentRules = z.infer<typeof segmentRulesSchema>;

/** A segment's name: also its label in reports and variant statistics. */
export const segmentNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$/, 'letters, digits, _ and - (at most 60, starting with a letter or digit)');

/** The label of a lead that belongs to no segment of its campaign, in reports and statistics. */
export const NO_SEGMENT = '(none)';

/** Raised for a condition or name that does not parse; says what is wrong with which part. */
export class SegmentRuleError extends DomainError {
  constructor(message: string) {
    super(message, 'invalid');
  }
}

/** `field<op>value`, the operator being the first `!=`, `~=` or `=`, or ` in ` between spaces. */
const conditionPattern = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:(!=|~=|=)(.*)|\s(in)\s(.*))$/is;

/**
 * Parses one condition as typed on the command line (`company~=acme`, `custom.tier in gold,silver`).
 * @throws SegmentRuleError naming the condition and what is wrong with it.
 */
export function parseSegmentCondition(text: string): SegmentCondition {
  const match = conditionPattern.exec(text);
  if (match === null) {
    throw new SegmentRuleError(`"${text.slice(0, 80)}" is not a condition: write <field><op><value> with op =, !=, ~= or in (e.g. company~=acme, custom.tier in gold,silver)`);
  }
  const [, field = '', op, value, inWord, inList] = match;
  const candidate =
    inWord !== undefined
      ? { field, op: 'in', value: (inList ?? '').split(',').map((item) => item.trim()) }
      : { field, op, value: value ?? '' };
  const parsed = segmentConditionSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? 'condition' : String(issue.path[0]);
    throw new SegmentRuleError(`"${text.slice(0, 80)}": ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** A condition written back the way it is typed. */
export function describeCondition(condition: SegmentCondition): string {
  return condition.op === 'in' ? `${condition.field} in ${condition.value.join(',')}` : `${condition.field}${condition.op}${condition.value}`;
}

/** SQL and its bindings. */
export interface SqlFragment {
  sql: string;
  bindings: Array<string | string[]>;
}

/** The lead field as lower-cased, trimmed text ('' when missing), for a `leads` row aliased `alias`. */
function fieldSql(field: string, alias: string): SqlFragment {
  if (field.startsWith('custom.')) return { sql: `lower(trim(coalesce(${alias}.custom->>?, '')))`, bindings: [field.slice('custom.'.length)] };
  if (!(SEGMENT_LEAD_FIELDS as readonly string[]).includes(field)) throw new SegmentRuleError(`unknown field ${field}`);
  return { sql: `lower(trim(coalesce(${alias}.${field}, '')))`, bindings: [] };
}

function conditionSql(condition: SegmentCondition, alias: string): SqlFragment {
  const field = fieldSql(condition.field, alias);
  switch (condition.op) {
    case '=':
      return { sql: `${field.sql} = ?`, bindings: [...field.bindings, condition.value.toLowerCase()] };
    case '!=':
      return { sql: `${field.sql} <> ?`, bindings: [...field.bindings, condition.value.toLowerCase()] };
    case '~=':
      return { sql: `strpos(${field.sql}, ?) > 0`, bindings: [...field.bindings, condition.value.toLowerCase()] };
    case 'in':
      return { sql: `${field.sql} = ANY(?::text[])`, bindings: [...field.bindings, condition.value.map((item) => item.toLowerCase())] };
  }
}

/**
 * SQL of the label of a lead (`leads` row aliased `alias`) among segments in order: the name
 * of the first whose conditions all hold, else NULL.
 */
export function segmentLabelSql(segments: ReadonlyArray<{ name: string; rules: SegmentRules }>, alias: string): SqlFragment {
  if (segments.length === 0) return { sql: 'NULL::text', bindings: [] };
  const bindings: SqlFragment['bindings'] = [];
  const branches = segments.map((segment) => {
    const conditions = segment.rules.map((condition) => conditionSql(condition, alias));
    for (const condition of conditions) bindings.push(...condition.bindings);
    bindings.push(segment.name);
    return `WHEN ${conditions.map((condition) => `(${condition.sql})`).join(' AND ')} THEN ?::text`;
  });
  return { sql: `CASE ${branches.join(' ')} END`, bindings };
}
