import type { Knex } from 'knex';
import type { SocialPlatform } from '../core/channels.js';
import type { PostEngagement, PostMetricsReading } from '../channels/social-client.js';

export const POST_METRICS = 'post_metrics';

/** A published post whose engagement is to be read, and the campaign-local day its row is for. */
export interface PostToMeasure {
  postId: number;
  campaignId: number;
  platform: SocialPlatform;
  externalId: string;
  /** YYYY-MM-DD in the campaign's time zone. */
  day: string;
}

/** Which posts to read: published LIVE posts on these platforms (of one campaign), not known deleted. */
export interface PostSelection {
  platforms: readonly SocialPlatform[];
  campaignId?: number;
  /** Only posts that have no row for their campaign's day yet (a retry after a rate limit). */
  missingOnly: boolean;
  now: Date;
}

/** One post's reading for one day. */
export interface PostMetricsRow {
  postId: number;
  campaignId: number;
  platform: SocialPlatform;
  day: string;
  reading: PostMetricsReading;
  fetchedAt: Date;
}

export const ENGAGEMENT_FIGURES = ['impressions', 'likes', 'reposts', 'replies', 'clicks', 'saves'] as const satisfies ReadonlyArray<keyof PostEngagement>;

/** The posts a fetch reads, in id order, each with its campaign's local day now. */
export async function postsToMeasure(db: Knex, selection: PostSelection): Promise<PostToMeasure[]> {
  const { rows } = await db.raw<{ rows: Array<{ id: number; campaign_id: number; platform: SocialPlatform; external_id: string; day: string }> }>(
    `SELECT p.id, p.campaign_id, p.platform, p.external_id, ((?::timestamptz) AT TIME ZONE c.timezone)::date AS day
       FROM campaign_posts p JOIN campaigns c ON c.id = p.campaign_id
      WHERE p.status = 'PUBLISHED' AND p.external_id IS NOT NULL AND c.status <> 'ARCHIVED'
        AND p.platform = ANY(?::text[])
        AND (?::bigint IS NULL OR p.campaign_id = ?::bigint)
        AND NOT EXISTS (SELECT 1 FROM post_metrics gone WHERE gone.post_id = p.id AND gone.status = 'DELETED')
        AND (NOT ?::boolean OR NOT EXISTS (SELECT 1 FROM post_metrics today
                                            WHERE today.post_id = p.id AND today.day = ((?::timestamptz) AT TIME ZONE c.timezone)::date))
      ORDER BY p.id`,
    [selection.now, [...selection.platforms], selection.campaignId ?? null, selection.campaignId ?? null, selection.missingOnly, selection.now],
  );
  return rows.map((row) => ({ postId: row.id, campaignId: row.campaign_id, platform: row.platform, externalId: row.external_id, day: row.day }));
}

/** Writes each post's reading for its day; a second reading the same day replaces the first. */
export async function upsertPostMetrics(db: Knex, rows: readonly PostMetricsRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db(POST_METRICS)
    .insert(
      rows.map((row) => {
        const engagement = row.reading.status === 'OK' ? row.reading.engagement : undefined;
        return {
          post_id: row.postId,
          campaign_id: row.campaignId,
          platform: row.platform,
          day: row.day,
          ...Object.fromEntries(ENGAGEMENT_FIGURES.map((figure) => [figure, engagement?.[figure] ?? null])),
          status: row.reading.status,
          fetched_at: row.fetchedAt,
        };
      }),
    )
    .onConflict(['post_id', 'day'])
    .merge([...ENGAGEMENT_FIGURES, 'status', 'fetched_at']);
}
