import type { Knex } from 'knex';
import { CAMPAIGN_LEADS, type EnrollmentState } from './enrollment-lifecycle.js';

/** One row of a campaign's lead table. */
export interface EnrolledLead {
  /** The enrollment's id: the keyset cursor of the table. */
  enrollmentId: number;
  leadId: number;
  email: string | null;
  name: string;
  company: string | null;
  state: EnrollmentState;
  /** 1-based step the lead is at (or ended at). */
  step: number;
  nextActionAt: Date | null;
  endReason: string | null;
}

/** A page of a campaign's lead table and the cursor of the next page (none on the last). */
export interface EnrolledLeadPage {
  leads: EnrolledLead[];
  nextAfter: number | undefined;
}

/** `%`, `_` and `\` are LIKE wildcards; a search for them means the characters. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

/**
 * A page of the leads enrolled in a campaign, in enrollment order, keyset-paged by enrollment
 * id (`afterId`: the last id of the previous page), optionally narrowed to leads whose email,
 * name or company contains `search` (case-insensitive). Reads only.
 */
export async function enrolledLeadPage(
  db: Knex,
  campaignId: number,
  options: { search?: string | undefined; afterId?: number | undefined; limit: number },
): Promise<EnrolledLeadPage> {
  const query = db(`${CAMPAIGN_LEADS} as cl`)
    .join('leads as l', 'l.id', 'cl.lead_id')
    .where('cl.campaign_id', campaignId)
    .where('cl.id', '>', options.afterId ?? 0)
    .orderBy('cl.id')
    .limit(options.limit + 1)
    .select('cl.id', 'cl.lead_id', 'l.email', 'l.first_name', 'l.last_name', 'l.company', 'cl.state', 'cl.current_step', 'cl.next_action_at', 'cl.end_reason');
  const search = options.search?.trim() ?? '';
  if (search !== '') {
    const pattern = likePattern(search);
    void query.where((where) => {
      void where
        .whereILike('l.email', pattern)
        .orWhereILike('l.company', pattern)
        .orWhereRaw(`concat_ws(' ', l.first_name, l.last_name) ILIKE ?`, [pattern]);
    });
  }
  const rows = (await query) as Array<{
    id: number | string;
    lead_id: number | string;
    email: string | null;
    first_name: string | null;
    last_name: string | null;
    company: string | null;
    state: EnrollmentState;
    current_step: number;
    next_action_at: Date | null;
    end_reason: string | null;
  }>;
  const page = rows.slice(0, options.limit);
  const last = page[page.length - 1];
  return {
    leads: page.map((row) => ({
      enrollmentId: Number(row.id),
      leadId: Number(row.lead_id),
      email: row.email,
      name: [row.first_name, row.last_name].filter((part) => part !== null && part !== '').join(' '),
      company: row.company,
      state: row.state,
      step: row.current_step + 1,
      nextActionAt: row.next_action_at,
      endReason: row.end_reason,
    })),
    nextAfter: rows.length > options.limit && last !== undefined ? Number(last.id) : undefined,
  };
}
