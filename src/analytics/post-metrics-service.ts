import type { Knex } from 'knex';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import { CircuitOpenError, PermanentSendError, RateLimitedError, SenderFaultError } from '../channels/adapter.js';
import { socialPlatforms, type SocialPlatform } from '../core/channels.js';
import type { PostMetricsReader } from '../channels/live-channels.js';
import { postsToMeasure, upsertPostMetrics, type PostMetricsRow, type PostToMeasure } from './post-metrics-store.js';

/** What to read: every published post, or one campaign's, on every configured platform or some. */
export interface PostMetricsRequest {
  campaignId?: number | undefined;
  platforms?: SocialPlatform[] | undefined;
  /** Only posts without a row for today (a follow-up after a rate limit or an outage). */
  missingOnly: boolean;
  /** How many follow-ups came before this request. */
  retry: number;
}

/** How reading one platform's posts went. */
export interface PlatformFetch {
  platform: SocialPlatform;
  /** Posts there were to read. */
  posts: number;
  /** Posts whose figures were stored. */
  read: number;
  /** Posts the platform no longer has: stored as DELETED, never asked about again. */
  deleted: number;
  /** Posts left unread (a rate limit, an open breaker, an outage, a refusal). */
  left: number;
  /** Why some were left, when some were. */
  problem?: string;
  /** When a follow-up read of the posts left is queued: in how many ms. */
  retryInMs?: number;
}

export interface PostMetricsSummary {
  platforms: PlatformFetch[];
  /** Platforms asked for whose token is not set: nothing can be read there. */
  notConfigured: SocialPlatform[];
}

/** A follow-up read of the posts one platform left unread, queued by the composition root. */
export type RetryLater = (request: PostMetricsRequest & { platforms: [SocialPlatform] }, delayMs: number, day: string) => Promise<void>;

export interface PostMetricsServiceDeps {
  db: Knex;
  clock: Clock;
  log: Logger;
  /** The configured platforms' readers (behind their accounts' breakers and timeouts). */
  readers: Partial<Record<SocialPlatform, PostMetricsReader>>;
  retryLater: RetryLater;
}

/** Follow-ups stop after this many: the next daily run reads the posts again anyway. */
const maxRetries = 5;
/** The wait before a follow-up after an outage (a 5xx, a timeout). */
const outageRetryMs = 5 * 60_000;

/** Why a platform stopped answering, and when to ask again (undefined: not before the next daily run). */
function stopReason(error: unknown, now: Date): { problem: string; retryInMs?: number } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RateLimitedError) return { problem: `rate limited: ${message}`, retryInMs: error.retryAfterMs };
  if (error instanceof CircuitOpenError) return { problem: message, retryInMs: Math.max(0, error.retryAt.getTime() - now.getTime()) };
  if (error instanceof SenderFaultError || error instanceof PermanentSendError) return { problem: message };
  return { problem: message, retryInMs: outageRetryMs };
}

/**
 * Reads the engagement of published LIVE posts from their platforms, platform by platform (at
 * the same time), in the batches each API takes, and stores each batch as it comes (one row per
 * post and campaign-local day, upserted: reading twice a day keeps the later figures). A post
 * the platform no longer has is stored DELETED and never asked about again. When a platform
 * rate-limits (429), its breaker is open or it fails, its remaining posts are left, the other
 * platforms go on, and a follow-up for the posts left is queued after the platform's wait; a
 * refusal of our token or request waits for the next daily run. Nothing here fails the job.
 */
export function postMetricsService({ db, clock, log, readers, retryLater }: PostMetricsServiceDeps) {
  async function readPlatform(platform: SocialPlatform, reader: PostMetricsReader, posts: readonly PostToMeasure[], request: PostMetricsRequest): Promise<PlatformFetch> {
    const outcome: PlatformFetch = { platform, posts: posts.length, read: 0, deleted: 0, left: 0 };
    for (let start = 0; start < posts.length; start += reader.batch) {
      const batch = posts.slice(start, start + reader.batch);
      let readings;
      try {
        const openUntil = reader.openUntil();
        if (openUntil !== undefined) throw new CircuitOpenError(`${platform} circuit breaker open`, openUntil);
        readings = await reader.read(batch.map((post) => post.externalId));
      } catch (error) {
        const now = clock.now();
        const stopped = stopReason(error, now);
        outcome.left = posts.length - start;
        outcome.problem = stopped.problem;
        const day = posts[start]?.day ?? '';
        if (stopped.retryInMs !== undefined && request.retry < maxRetries) {
          await retryLater({ campaignId: request.campaignId, platforms: [platform], missingOnly: true, retry: request.retry + 1 }, stopped.retryInMs, day);
          outcome.retryInMs = stopped.retryInMs;
        }
        log.warn({ platform, left: outcome.left, retryInMs: outcome.retryInMs, problem: stopped.problem }, 'post metrics: a platform stopped answering; its other posts wait');
        return outcome;
      }
      const fetchedAt = clock.now();
      const rows: PostMetricsRow[] = [];
      for (const post of batch) {
        const reading = readings.get(post.externalId);
        if (reading === undefined) continue;
        rows.push({ postId: post.postId, campaignId: post.campaignId, platform, day: post.day, reading, fetchedAt });
        if (reading.status === 'DELETED') outcome.deleted += 1;
        else outcome.read += 1;
      }
      await upsertPostMetrics(db, rows);
    }
    outcome.left = posts.length - outcome.read - outcome.deleted;
    return outcome;
  }

  return {
    /** Reads and stores the posts' engagement now; says per platform what was read and what was left. */
    async fetch(request: PostMetricsRequest): Promise<PostMetricsSummary> {
      const asked = request.platforms ?? [...socialPlatforms];
      const configured = asked.filter((platform) => readers[platform] !== undefined);
      const posts = await postsToMeasure(db, { platforms: configured, campaignId: request.campaignId, missingOnly: request.missingOnly, now: clock.now() });
      const platforms = await Promise.all(
        configured.map((platform) => {
          const reader = readers[platform] as PostMetricsReader;
          return readPlatform(
            platform,
            reader,
            posts.filter((post) => post.platform === platform),
            request,
          );
        }),
      );
      return { platforms, notConfigured: asked.filter((platform) => readers[platform] === undefined) };
    },
  };
}

export type PostMetricsService = ReturnType<typeof postMetricsService>;

/** One line per platform for people: `x: 12 read, 1 deleted on the platform, 3 left (rate limited: …), again in 60 s`. */
export function describePostMetrics(summary: PostMetricsSummary): string[] {
  const lines = summary.platforms.map((fetch) => {
    const parts = [`${fetch.read} read`];
    if (fetch.deleted > 0) parts.push(`${fetch.deleted} deleted on the platform`);
    if (fetch.left > 0) parts.push(`${fetch.left} left${fetch.problem === undefined ? '' : ` (${fetch.problem})`}`);
    const again = fetch.retryInMs === undefined ? '' : `, read again in ${Math.ceil(fetch.retryInMs / 1000)} s`;
    return `${fetch.platform}: ${fetch.posts} published post(s): ${parts.join(', ')}${again}`;
  });
  if (summary.notConfigured.length > 0) lines.push(`not configured (no token): ${summary.notConfigured.join(', ')}`);
  return lines;
}
