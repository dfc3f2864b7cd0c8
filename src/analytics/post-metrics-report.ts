import type { Knex } from 'knex';
import type { SocialPlatform } from '../core/channels.js';
import type { PostEngagement } from '../channels/social-client.js';

/** One post's latest reading: the figures its platform gave on the last day it was read. */
export interface PostMetricsOfPost extends PostEngagement {
  postId: number;
  postIndex: number;
  platform: SocialPlatform;
  externalId: string | null;
  /** The campaign-local day of the reading. */
  day: string;
  /** DELETED once the platform no longer has the post (its figures are then null). */
  status: 'OK' | 'DELETED';
  fetchedAt: string;
}

/** The posts of one channel on one day, summed (null where no post had the figure). */
export interface PostMetricsOfChannelDay extends PostEngagement {
  channel: SocialPlatform;
  day: string;
  /** Posts read that day (deleted ones excluded). */
  posts: number;
}

export interface PostMetricsReport {
  posts: PostMetricsOfPost[];
  byChannelDay: PostMetricsOfChannelDay[];
}

type Figures = Record<keyof PostEngagement, number | null>;

/**
 * A campaign's post engagement as the platforms reported it (`post_metrics`): each post's latest
 * reading, and per channel and day the sum over its posts. The platforms report lifetime totals,
 * so a day's row is where the posts stood when read that day, not what happened on it.
 */
export async function postMetricsForCampaign(db: Knex, campaignId: number): Promise<PostMetricsReport> {
  const [latest, sums] = await Promise.all([
    db.raw<{ rows: Array<Figures & { post_id: number; post_index: number; platform: SocialPlatform; external_id: string | null; day: string; status: 'OK' | 'DELETED'; fetched_at: Date }> }>(
      `SELECT DISTINCT ON (m.post_id) m.post_id, p.post_index, m.platform, p.external_id, m.day, m.status, m.fetched_at,
              m.impressions, m.likes, m.reposts, m.replies, m.clicks, m.saves
         FROM post_metrics m JOIN campaign_posts p ON p.id = m.post_id
        WHERE m.campaign_id = ?
        ORDER BY m.post_id, m.day DESC`,
      [campaignId],
    ),
    db.raw<{ rows: Array<Figures & { platform: SocialPlatform; day: string; posts: number }> }>(
      `SELECT platform, day, count(*)::int AS posts,
              sum(impressions)::int AS impressions, sum(likes)::int AS likes, sum(reposts)::int AS reposts,
              sum(replies)::int AS replies, sum(clicks)::int AS clicks, sum(saves)::int AS saves
         FROM post_metrics
        WHERE campaign_id = ? AND status = 'OK'
        GROUP BY platform, day
        ORDER BY day, platform`,
      [campaignId],
    ),
  ]);
  const figures = (row: Figures): Figures => ({
    impressions: row.impressions,
    likes: row.likes,
    reposts: row.reposts,
    replies: row.replies,
    clicks: row.clicks,
    saves: row.saves,
  });
  return {
    posts: latest.rows.map((row) => ({
      postId: row.post_id,
      postIndex: row.post_index,
      platform: row.platform,
      externalId: row.external_id,
      day: row.day,
      status: row.status,
      fetchedAt: row.fetched_at.toISOString(),
      ...figures(row),
    })),
    byChannelDay: sums.rows.map((row) => ({ channel: row.platform, day: row.day, posts: row.posts, ...figures(row) })),
  };
}
