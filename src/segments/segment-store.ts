import type { Knex } from 'knex';
import { segmentRulesSchema, type SegmentRules } from './segment-rules.js';

export const SEGMENTS = 'segments';

/** A named ICP segment: conditions over lead fields, reused across campaigns. */
export interface Segment {
  id: number;
  name: string;
  rules: SegmentRules;
  createdAt: Date;
}

interface SegmentRow {
  id: number;
  name: string;
  rules: unknown;
  created_at: Date;
}

/** A stored row's rules are parsed again: a row changed behind drumbeat's back fails here, loudly. */
function rowToSegment(row: SegmentRow): Segment {
  return { id: row.id, name: row.name, rules: segmentRulesSchema.parse(row.rules), createdAt: row.created_at };
}

/** Adds a segment once (its name is unique); returns it, or undefined when the name is taken. */
export async function insertSegment(db: Knex, segment: { name: string; rules: SegmentRules; now: Date }): Promise<Segment | undefined> {
  const { rows } = await db.raw<{ rows: SegmentRow[] }>(
    `INSERT INTO segments (name, rules, created_at) VALUES (?, ?::jsonb, ?) ON CONFLICT (name) DO NOTHING RETURNING *`,
    [segment.name, JSON.stringify(segment.rules), segment.now],
  );
  const row = rows[0];
  return row === undefined ? undefined : rowToSegment(row);
}

/** Every segment, by name. */
export async function listSegments(db: Knex): Promise<Segment[]> {
  const rows = (await db(SEGMENTS).orderBy('name')) as SegmentRow[];
  return rows.map(rowToSegment);
}

/** The names among these that exist. */
export async function existingSegmentNames(db: Knex, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const found = (await db(SEGMENTS).whereIn('name', [...names]).pluck('name')) as string[];
  return new Set(found);
}

/** The segments a campaign's spec lists, in its order (the first that matches labels a lead). */
export async function campaignSegments(db: Knex, campaignId: number): Promise<Segment[]> {
  const { rows } = await db.raw<{ rows: SegmentRow[] }>(
    `SELECT s.* FROM campaigns c
       CROSS JOIN LATERAL jsonb_array_elements_text(c.segments) WITH ORDINALITY AS listed(name, position)
       JOIN segments s ON s.name = listed.name
      WHERE c.id = ?
      ORDER BY listed.position`,
    [campaignId],
  );
  return rows.map(rowToSegment);
}
