import type { Knex } from 'knex';
import { DomainError } from '../core/domain-error.js';
import { parseSegmentCondition, segmentNameSchema, SegmentRuleError, segmentRulesSchema } from './segment-rules.js';
import { insertSegment, type Segment } from './segment-store.js';

/**
 * Defines a named segment from conditions as typed (`company~=acme`, `custom.tier in gold,silver`),
 * all of which a lead must meet. A name already defined is refused (segments are reused across
 * campaigns, so one is never silently redefined under them).
 * @throws SegmentRuleError for a bad name or condition; DomainError (conflict) for a taken name.
 */
export async function addSegment(db: Knex, request: { name: string; conditions: readonly string[]; now: Date }): Promise<Segment> {
  const name = segmentNameSchema.safeParse(request.name);
  if (!name.success) throw new SegmentRuleError(`segment name "${request.name.slice(0, 80)}": ${name.error.issues[0]?.message ?? 'invalid'}`);
  const rules = segmentRulesSchema.safeParse(request.conditions.map(parseSegmentCondition));
  if (!rules.success) throw new SegmentRuleError(`segment ${name.data}: ${rules.error.issues[0]?.message ?? 'invalid conditions'} (give each with --when)`);
  const added = await insertSegment(db, { name: name.data, rules: rules.data, now: request.now });
  if (added === undefined) throw new DomainError(`a segment named "${name.data}" already exists`, 'conflict');
  return added;
}
