import type { Knex } from 'knex';
import { wilsonInterval, type RateInterval } from './wilson-interval.js';

/** What one angle has done for one segment, across campaigns. */
export interface Narrative {
  segment: string;
  angle: string;
  sends: number;
  replies: number;
  campaigns: number;
  replyRate: RateInterval;
}

/**
 * Narrative memory: for each (segment, angle), the sends and replies of every variant with that
 * angle, across campaigns, as the metrics rollup last counted them (the `narrative_memory`
 * view of `variant_stats`), best first: by the lower bound of the reply rate's 95 % interval, so
 * a few lucky replies do not outrank a rate proven over many sends.
 */
export async function narrativeMemory(db: Knex, options: { segment?: string } = {}): Promise<Narrative[]> {
  const query = db('narrative_memory').select('segment', 'angle', 'sends', 'replies', 'campaigns');
  if (options.segment !== undefined) query.where({ segment: options.segment });
  const rows = (await query) as Array<{ segment: string; angle: string; sends: number; replies: number; campaigns: number }>;
  return rows
    .map((row) => ({ ...row, replyRate: wilsonInterval(row.replies, row.sends) }))
    .sort((a, b) => b.replyRate.low - a.replyRate.low || b.sends - a.sends || a.segment.localeCompare(b.segment) || a.angle.localeCompare(b.angle));
}
