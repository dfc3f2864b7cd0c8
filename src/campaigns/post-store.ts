import type { Knex } from 'knex';
import type { SocialPlatform } from '../core/channels.js';

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

/** Statuses of a post that waits for its publish job: scheduled, or approved after review. */
export const WAITING_STATUSES: readonly PostStatus[] = ['SCHEDULED', 'APPROVED'];

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

/** A post as it is written: its place in the calendar, what and when to publish, and its first status. */
export type NewPost = Pick<CampaignPost, 'postIndex' | 'platform' | 'text' | 'mediaUrl' | 'scheduledAt' | 'status'>;

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

function newPostRow(campaignId: number, post: NewPost) {
  return {
    campaign_id: campaignId,
    post_index: post.postIndex,
    post_key: postKey(campaignId, post.postIndex),
    platform: post.platform,
    text: post.text,
    media_url: post.mediaUrl,
    scheduled_at: post.scheduledAt,
    status: post.status,
  };
}

/** Inserts posts of a campaign; a post index that already has a row keeps it (ON CONFLICT DO NOTHING). */
export async function insertPosts(db: Knex, campaignId: number, posts: readonly NewPost[]): Promise<void> {
  if (posts.length === 0) return;
  await db(CAMPAIGN_POSTS)
    .insert(posts.map((post) => newPostRow(campaignId, post)))
    .onConflict(['campaign_id', 'post_index'])
    .ignore();
}

/**
 * Makes a campaign's posts these: each index's row is rewritten in place (same id and key, so a
 * publish job already added for it still finds it, with its review decision cleared) and rows
 * past the last index are deleted. Run it in a transaction.
 */
export async function replacePosts(db: Knex, campaignId: number, posts: readonly NewPost[], now: Date): Promise<void> {
  await db(CAMPAIGN_POSTS).where({ campaign_id: campaignId }).where('post_index', '>=', posts.length).delete();
  if (posts.length === 0) return;
  await db(CAMPAIGN_POSTS)
    .insert(posts.map((post) => newPostRow(campaignId, post)))
    .onConflict(['campaign_id', 'post_index'])
    .merge({
      platform: db.raw('excluded.platform'),
      text: db.raw('excluded.text'),
      media_url: db.raw('excluded.media_url'),
      scheduled_at: db.raw('excluded.scheduled_at'),
      status: db.raw('excluded.status'),
      review_decided_by: null,
      review_decided_at: null,
      updated_at: now,
    });
}

/** The posts of a campaign waiting for their publish job (scheduled or approved). */
export async function waitingPosts(db: Knex, campaignId: number): Promise<CampaignPost[]> {
  const rows = (await db(CAMPAIGN_POSTS).where({ campaign_id: campaignId }).whereIn('status', WAITING_STATUSES).orderBy('post_index')) as PostRow[];
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

/**
 * Claims a post for its platform call: compare-and-set from a publishable status to PUBLISHING,
 * counting the attempt. Returns false when another run claimed it (or it is no longer publishable).
 */
export async function claimPost(db: Knex, id: number, now: Date): Promise<boolean> {
  const claimed = await db(CAMPAIGN_POSTS)
    .where({ id })
    .whereIn('status', PUBLISHABLE_STATUSES)
    .update({ status: 'PUBLISHING', publishing_at: now, attempts: db.raw('attempts + 1'), updated_at: now });
  return claimed === 1;
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
