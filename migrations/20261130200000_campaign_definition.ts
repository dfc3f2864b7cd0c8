import type { Knex } from 'knex';

/**
 * One source for the campaign definition: its rows. What only the spec JSON held becomes rows
 * and columns, so that nothing reads `campaigns.spec` again (it stays as the audit copy of what
 * was submitted):
 * - `campaigns.llm_fallback` (TEMPLATE | REVIEW) and `campaigns.custom_fields` (the custom lead
 *   fields inline text may use);
 * - `campaign_steps.personalize` (JSON that was never written) becomes `personalize_prompt`,
 *   the text of the step's LLM prompt, null when the step is not personalised;
 * - `campaign_posts` gets a row for every post of every spec: posts are written when a campaign
 *   is created or edited now, no longer by its first tick.
 * Existing campaigns are backfilled from their spec.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE campaigns
      ADD COLUMN llm_fallback text NOT NULL DEFAULT 'TEMPLATE',
      ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '[]',
      ADD CONSTRAINT campaigns_llm_fallback_check CHECK (llm_fallback IN ('TEMPLATE','REVIEW'))
  `);
  await knex.raw(`UPDATE campaigns SET llm_fallback = spec->>'llmFallback' WHERE spec->>'llmFallback' IN ('TEMPLATE','REVIEW')`);
  await knex.raw(`UPDATE campaigns SET custom_fields = spec->'customFields' WHERE jsonb_typeof(spec->'customFields') = 'array'`);

  await knex.raw(`ALTER TABLE campaign_steps RENAME COLUMN personalize TO personalize_prompt`);
  await knex.raw(`ALTER TABLE campaign_steps ALTER COLUMN personalize_prompt TYPE text USING personalize_prompt->>'prompt'`);
  await knex.raw(`
    UPDATE campaign_steps s SET personalize_prompt = c.spec->'steps'->s.step_index->'personalize'->>'prompt'
      FROM campaigns c
     WHERE c.id = s.campaign_id AND c.spec->'steps'->s.step_index->'personalize'->>'prompt' IS NOT NULL
  `);

  // Posts of campaigns that never ticked had no rows yet; those that did keep theirs.
  await knex.raw(`
    INSERT INTO campaign_posts (campaign_id, post_index, post_key, platform, text, media_url, scheduled_at, status)
    SELECT c.id, p.ordinality - 1, 'p' || c.id || '-' || (p.ordinality - 1), p.post->>'platform', p.post->>'text',
           p.post->>'mediaUrl', (p.post->>'at')::timestamptz,
           CASE WHEN c.require_review OR coalesce((p.post->>'requireReview')::boolean, false) THEN 'PENDING_REVIEW' ELSE 'SCHEDULED' END
      FROM campaigns c
     CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(c.spec->'posts') = 'array' THEN c.spec->'posts' ELSE '[]'::jsonb END)
           WITH ORDINALITY AS p(post, ordinality)
    ON CONFLICT (campaign_id, post_index) DO NOTHING
  `);
}

export async function down(knex: Knex): Promise<void> {
  // Post rows stay: the earlier schema holds them too, and its ticks leave existing rows alone.
  await knex.raw(`
    ALTER TABLE campaign_steps ALTER COLUMN personalize_prompt TYPE jsonb
      USING CASE WHEN personalize_prompt IS NULL THEN NULL ELSE jsonb_build_object('prompt', personalize_prompt) END
  `);
  await knex.raw(`ALTER TABLE campaign_steps RENAME COLUMN personalize_prompt TO personalize`);
  await knex.raw(`
    ALTER TABLE campaigns
      DROP CONSTRAINT campaigns_llm_fallback_check,
      DROP COLUMN custom_fields,
      DROP COLUMN llm_fallback
  `);
}
