import type { Knex } from 'knex';
import { listPosts, type CampaignPost } from './post-store.js';
import { findCampaign, findSteps, type Campaign, type CampaignStep } from './campaign-store.js';

/**
 * A campaign's definition as the engine runs it, read from its rows: the campaign (settings,
 * review, `llmFallback`), its sequence (channel, delay, text or template or variants, review,
 * personalisation prompt, in step order: `steps[i].stepIndex === i`) and its content calendar
 * (each post with where it stands). The spec JSON a campaign was created or edited from is
 * only the audit copy of what was submitted; nothing runs from it.
 */
export interface CampaignDefinition {
  campaign: Campaign;
  steps: CampaignStep[];
  posts: CampaignPost[];
}

/**
 * Loads a campaign's definition (three reads: the campaign, its steps, its posts); undefined when
 * the campaign does not exist. The tick reads it once per tick; previews, the report, the LLM
 * composer and imports read it the same way.
 */
export async function loadCampaignDefinition(db: Knex, campaignId: number): Promise<CampaignDefinition | undefined> {
  const campaign = await findCampaign(db, campaignId);
  if (campaign === undefined) return undefined;
  return { campaign, steps: await findSteps(db, campaignId), posts: await listPosts(db, campaignId) };
}
