import type { Knex } from 'knex';
import { sampleBeta, type Random } from '../core/random.js';
import { NO_SEGMENT } from '../segments/segment-rules.js';
import type { CampaignStep, StepVariant } from './campaign-store.js';

/** What a variant has done so far in one segment: messages sent (or planned this tick, while warming up) and replies. */
export interface VariantTally {
  sends: number;
  replies: number;
}

/** The variant a message gets, and why (stored as `messages.variant_reason`). */
export interface VariantChoice {
  variant: StepVariant;
  reason: string;
}

/** Tallies of a campaign's Thompson steps, by `tallyKey(step, segment)` then variant name. */
export type VariantTallies = Map<string, Map<string, VariantTally>>;

export function tallyKey(stepIndex: number, segment: string | null): string {
  return `${stepIndex}\u0000${segment ?? NO_SEGMENT}`;
}

/**
 * The sends and replies of each variant of these steps, per segment, as the last metrics rollup
 * counted them (`variant_stats`): one read of a few rows per tick batch. Replies are counted at
 * most once per send.
 */
export async function readVariantTallies(db: Knex, campaignId: number, stepIndexes: readonly number[]): Promise<VariantTallies> {
  const tallies: VariantTallies = new Map();
  if (stepIndexes.length === 0) return tallies;
  const rows = (await db('variant_stats')
    .where({ campaign_id: campaignId })
    .whereIn('step_index', [...stepIndexes])
    .select('step_index', 'segment', 'variant', 'sent', db.raw('least(replied, sent) AS replied'))) as Array<{
    step_index: number;
    segment: string;
    variant: string;
    sent: number;
    replied: number;
  }>;
  for (const row of rows) {
    const key = tallyKey(row.step_index, row.segment);
    const bySegment = tallies.get(key) ?? new Map<string, VariantTally>();
    bySegment.set(row.variant, { sends: row.sent, replies: row.replied });
    tallies.set(key, bySegment);
  }
  return tallies;
}

function segmentWords(segment: string | null): string {
  return `in segment ${segment ?? NO_SEGMENT}`;
}

/**
 * Thompson sampling between a step's variants for one lead of `segment`. Until every variant
 * has `minSendsPerVariant` sends in the segment, the least sent goes (the first listed on a
 * tie), and its tally counts the message at once, so a batch takes turns; after that each
 * variant draws from Beta(replies + 1, sends − replies + 1) and the highest draw wins. `tallies`
 * is the segment's, by variant name; the warm-up updates it.
 */
export function thompsonChoice(step: CampaignStep, segment: string | null, tallies: Map<string, VariantTally>, random: Random): VariantChoice {
  const variants = step.variants ?? [];
  if (variants.length === 0) throw new Error(`step ${step.stepIndex + 1} has no variants to choose from`);
  const tallyOf = (variant: StepVariant): VariantTally => {
    const found = tallies.get(variant.name) ?? { sends: 0, replies: 0 };
    tallies.set(variant.name, found);
    return found;
  };
  const counted = variants.map((variant) => ({ variant, tally: tallyOf(variant) }));
  const warming = counted.filter(({ tally }) => tally.sends < step.minSendsPerVariant);
  if (warming.length > 0) {
    const least = warming.reduce((best, candidate) => (candidate.tally.sends < best.tally.sends ? candidate : best));
    const reason = `warm-up ${segmentWords(segment)}: least sent (${counted.map(({ variant, tally }) => `${variant.name} ${tally.sends}`).join(', ')} of ${step.minSendsPerVariant})`;
    least.tally.sends += 1;
    return { variant: least.variant, reason };
  }
  const draws = counted.map(({ variant, tally }) => ({ variant, tally, draw: sampleBeta(tally.replies + 1, Math.max(tally.sends - tally.replies, 0) + 1, random) }));
  const best = draws.reduce((winner, candidate) => (candidate.draw > winner.draw ? candidate : winner));
  const detail = draws.map(({ variant, tally, draw }) => `${variant.name} ${draw.toFixed(3)} (${tally.replies}/${tally.sends})`).join(', ');
  return { variant: best.variant, reason: `thompson ${segmentWords(segment)}: ${detail}` };
}
