import type { Knex } from 'knex';
import type { SocialPlatform } from '../channels/live-channels.js';
import type { PostSpec } from '../campaigns/campaign-spec.js';

export const CAMPAIGN_POSTS = 'campaign_posts';

export type PostStatus =
  | 'SCHEDULED'
  | 'PENDING_REVIEW'
  | 'APPROVED'
  | 'REJECTED'
  | 'PUBLISHING'
  | 'PUBLISHED'
  | 'PUBLISHED_PROOF'
  | 'FAILED'
  | 'DEAD'
  | 'SKIPPED'
  | 'UNKNOWN';

/** Statuses a publish job may claim from; DEAD only through an operator's retry of the failed job. */
export const PUBLISHABLE_STATUSES: readonly PostStatus[] = ['SCHEDULED', 'APPROVED', 'FAILED', 'DEAD'];

export interface CampaignPost {
  id: number;
  campaignId: number;
  postIndex: number;
  postKey: string;
  platform: SocialPlatform;
  text: string;
  mediaUrl: string | null;
  scheduledAt: Date;
  status: PostStatus;
  externalId: string | null;
  attempts: number;
  lastError: string | null;
}

interface PostRow {
  id: number;
  campaign_id: number;
  post_index: number;
  post_key: string;
  platform: SocialPlatform;
  text: string;
  media_url: string | null;
  scheduled_at: Date;
  status: PostStatus;
  external_id: string | null;
  attempts: number;
  last_error: string | null;
}

export function rowToPost(row: PostRow): CampaignPost {
  return {
    id: row.id,
    campaignId: row.campaign_id,
    postIndex: row.post_index,
    postKey: row.post_key,
    platform: row.platform,
    text: row.text,
    mediaUrl: row.media_url,
    scheduledAt: row.scheduled_at,
    status: row.status,
    externalId: row.external_id,
    attempts: row.attempts,
    lastError: row.last_error,
  };
}

/** The key of a campaign's n-th post: unique in Postgres and the publish jobId (no `:`). */
export function postKey(campaignId: number, postIndex: number): string {
  return `p${campaignId}-${postIndex}`;
}

/** Inserts a campaign's posts from its spec; rows already there are left alone (ON CONFLICT DO NOTHING). */
export async function insertPosts(db: Knex, campaignId: number, posts: readonly PostSpec[], campaignReview: boolean): Promise<void> {
  if (posts.length === 0) return;
  await db(CAMPAIGN_POSTS)
    .insert(
      posts.map((post, index) => ({
        campaign_id: campaignId,
        post_index: index,
        post_key: postKey(campaignId, index),
        platform: post.platform,
        text: post.text,
        media_url: post.mediaUrl ?? null,
        scheduled_at: post.at,
        status: campaignReview || post.requireReview ? 'PENDING_REVIEW' : 'SCHEDULED',
      })),
    )
    .onConflict(['campaign_id', 'post_index'])
    .ignore();
}

/** The posts of a campaign waiting for their publish job (scheduled or approved). */
export async function waitingPosts(db: Knex, campaignId: number): Promise<CampaignPost[]> {
  const rows = (await db(CAMPAIGN_POSTS).where({ campaign_id: campaignId }).whereIn('status', ['SCHEDULED', 'APPROVED']).orderBy('post_index')) as PostRow[];
  return rows.map(rowToPost);
}

export async function findPost(db: Knex, id: number): Promise<CampaignPost | undefined> {
  const row = (await db(CAMPAIGN_POSTS).where({ id }).first()) as PostRow | undefined;
  return row === undefined ? undefined : rowToPost(row);
}

export async function listPosts(db: Knex, campaignId: number): Promise<CampaignPost[]> {
  const rows = (await db(CAMPAIGN_POSTS).where({ campaign_id: campaignId }).orderBy('post_index')) as PostRow[];
  return rows.map(rowToPost);
}

/** Compare-and-set of a post's status; returns false when it was not in `from`. */
export async function transitionPost(
  db: Knex,
  id: number,
  from: readonly PostStatus[],
  to: PostStatus,
  now: Date,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const updated = await db(CAMPAIGN_POSTS)
    .where({ id })
    .whereIn('status', from)
    .update({ status: to, updated_at: now, ...extra });
  return updated === 1;
}
