import { UnrecoverableError } from 'bullmq';
import type { Knex } from 'knex';
import type { Logger } from '../log/logger.js';
import { DomainError, type DomainErrorKind } from '../errors/domain-error.js';
import type { Clock } from '../runtime/clock.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import { classifyDeliveryFailure, missingAdapterFailure } from '../channels/delivery-failure.js';
import type { CampaignService } from '../campaigns/campaign-service.js';
import type { PostPublisher, SocialPlatform } from '../channels/live-channels.js';
import type { CampaignDefinition } from '../campaigns/campaign-definition.js';
import { findCampaign } from '../campaigns/campaign-store.js';
import { readKillSwitch } from '../settings/kill-switch.js';
import { publishQueues } from '../../queues/index.js';
import { claimPost, findPost, listPosts, PUBLISHABLE_STATUSES, transitionPost, WAITING_STATUSES, type CampaignPost } from './post-store.js';

/** What a publish job should do next; the processor turns holds and rate limits into BullMQ moves. */
export type PublishDecision =
  | { kind: 'published'; status: 'PUBLISHED' | 'PUBLISHED_PROOF'; externalId: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'not-publishable'; status: string }
  | { kind: 'unknown'; reason: string }
  | { kind: 'hold'; until: Date; reason: string }
  | { kind: 'rate-limited'; retryAfterMs: number };

export interface ContentCalendarDeps {
  db: Knex;
  queues: QueueRegistry;
  clock: Clock;
  log: Logger;
  /** LIVE publishers by platform; PROOF campaigns publish nothing and record PUBLISHED_PROOF. */
  publishers: Partial<Record<SocialPlatform, PostPublisher>>;
  /** Pauses the campaigns of an account that failed (a fault that is not the post's). */
  campaigns: Pick<CampaignService, 'pauseForSenderFault'>;
}

/** Raised for an operator request the post's state does not allow. */
export class PostStateError extends DomainError {
  constructor(message: string, kind: Extract<DomainErrorKind, 'not-found' | 'conflict'> = 'conflict') {
    super(message, kind);
  }
}

const holdFor = { killSwitch: 10_000, paused: 5 * 60_000 } as const;

/**
 * The content calendar: a campaign's public posts, each published once at its time by a delayed
 * `publish-<platform>` job whose id is the post key. Posts are rows of the campaign's definition
 * (written when it is created or edited) and their jobs are (re-)added by every tick, so a Redis
 * flush loses nothing; Postgres status
 * (compare-and-set to PUBLISHING before the platform call) keeps each post to one publish. The
 * same gates as messages apply: kill switch, campaign state, review approval.
 */
export function contentCalendar({ db, queues, clock, log, publishers, campaigns }: ContentCalendarDeps) {
  async function enqueue(posts: readonly CampaignPost[]): Promise<number> {
    const now = clock.now().getTime();
    let added = 0;
    for (const post of posts) {
      added += await queues.addMany(publishQueues[post.platform], [
        { data: { postId: post.id }, opts: { jobId: post.postKey, delay: Math.max(0, post.scheduledAt.getTime() - now) } },
      ]);
    }
    return added;
  }

  function fail(post: CampaignPost, to: 'FAILED' | 'DEAD' | 'UNKNOWN' | 'SCHEDULED', text: string, extra: Record<string, unknown> = {}) {
    return transitionPost(db, post.id, ['PUBLISHING'], to, clock.now(), { last_error: text, ...extra });
  }

  /**
   * A fault of the account, token or our config, not of the post: every ACTIVE LIVE campaign
   * using that platform pauses with the reason, and the job waits (no attempt spent). A post
   * of a COMPLETED campaign (which keeps publishing) has no campaign left to pause: it waits
   * and tries again after the same hold.
   */
  async function pauseOnSenderFault(post: CampaignPost, reason: string): Promise<PublishDecision> {
    const paused = await campaigns.pauseForSenderFault({ channel: post.platform, campaignId: post.campaignId, reason });
    if (paused.length === 0) log.warn({ postId: post.id, platform: post.platform, reason }, 'publish held: the account failed; fix it');
    return { kind: 'hold', until: new Date(clock.now().getTime() + holdFor.paused), reason: `paused by drumbeat: ${reason}` };
  }

  return {
    /**
     * Adds the publish job of each post of a campaign's definition that waits for one (scheduled
     * or approved); re-adding an existing job id is a no-op. Returns the jobs handed to BullMQ.
     */
    schedule(definition: Pick<CampaignDefinition, 'posts'>): Promise<number> {
      return enqueue(definition.posts.filter((post) => WAITING_STATUSES.includes(post.status)));
    },

    list: (campaignId: number) => listPosts(db, campaignId),

    /** Approves a post held for review and schedules its job. */
    async approve(postId: number, by: string): Promise<CampaignPost> {
      const now = clock.now();
      if (!(await transitionPost(db, postId, ['PENDING_REVIEW'], 'APPROVED', now, { review_decided_by: by, review_decided_at: now }))) {
        throw new PostStateError(`post ${postId} is not waiting for review`);
      }
      const post = await findPost(db, postId);
      if (post === undefined) throw new PostStateError(`post ${postId} does not exist`, 'not-found');
      await enqueue([post]);
      return post;
    },

    /** Rejects a post held for review: it is never published. */
    async reject(postId: number, by: string): Promise<void> {
      const now = clock.now();
      if (!(await transitionPost(db, postId, ['PENDING_REVIEW'], 'REJECTED', now, { review_decided_by: by, review_decided_at: now }))) {
        throw new PostStateError(`post ${postId} is not waiting for review`);
      }
    },

    /** Publishes one post if every gate allows it now. */
    async publish(postId: number, attempt: { attemptsMade: number; attempts: number }): Promise<PublishDecision> {
      const post = await findPost(db, postId);
      if (post === undefined) throw new UnrecoverableError(`post ${postId} does not exist`);
      const now = clock.now();
      if (!PUBLISHABLE_STATUSES.includes(post.status)) return { kind: 'not-publishable', status: post.status };
      if ((await readKillSwitch(db)).on) return { kind: 'hold', until: new Date(now.getTime() + holdFor.killSwitch), reason: 'kill switch on' };
      const campaign = await findCampaign(db, post.campaignId);
      if (campaign === undefined) throw new UnrecoverableError(`campaign ${post.campaignId} of post ${postId} does not exist`);
      if (campaign.status === 'ARCHIVED') {
        await transitionPost(db, post.id, PUBLISHABLE_STATUSES, 'SKIPPED', now, { skip_reason: 'campaign archived' });
        return { kind: 'skipped', reason: 'campaign archived' };
      }
      // A finished sequence does not cancel the calendar: COMPLETED campaigns still publish.
      if (campaign.status !== 'ACTIVE' && campaign.status !== 'COMPLETED') {
        return { kind: 'hold', until: new Date(now.getTime() + holdFor.paused), reason: `campaign ${campaign.status}` };
      }
      if (post.scheduledAt.getTime() > now.getTime()) return { kind: 'hold', until: post.scheduledAt, reason: 'not yet due' };
      const publisher = campaign.mode === 'PROOF' ? undefined : publishers[post.platform];
      // Our configuration's fault, not the post's: it stays as it is (it was never claimed).
      if (campaign.mode === 'LIVE' && publisher === undefined) return pauseOnSenderFault(post, missingAdapterFailure(post.platform).reason);
      const openUntil = publisher?.openUntil();
      if (openUntil !== undefined) return { kind: 'hold', until: openUntil, reason: `${post.platform} circuit breaker open` };

      if (!(await claimPost(db, post.id, now))) return { kind: 'not-publishable', status: 'changed concurrently' };

      if (publisher === undefined) {
        const externalId = `proof-post-${post.id}`;
        await transitionPost(db, post.id, ['PUBLISHING'], 'PUBLISHED_PROOF', now, { provider: 'proof', external_id: externalId, published_at: now });
        return { kind: 'published', status: 'PUBLISHED_PROOF', externalId };
      }
      try {
        const result = await publisher.publish({ key: post.postKey, text: post.text, mediaUrl: post.mediaUrl });
        await transitionPost(db, post.id, ['PUBLISHING'], 'PUBLISHED', clock.now(), {
          provider: result.provider,
          external_id: result.externalId,
          published_at: clock.now(),
          last_error: null,
        });
        log.info({ postId: post.id, platform: post.platform, externalId: result.externalId }, 'post published');
        return { kind: 'published', status: 'PUBLISHED', externalId: result.externalId };
      } catch (error) {
        const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        const failure = classifyDeliveryFailure(error);
        switch (failure.kind) {
          case 'ambiguous':
            // The platform may have published it: never post twice; an operator checks.
            await fail(post, 'UNKNOWN', text);
            log.error({ postId: post.id, err: error }, 'publish outcome unknown; an operator must resolve it');
            return { kind: 'unknown', reason: text };
          case 'breaker-open':
            await fail(post, 'SCHEDULED', text);
            return { kind: 'hold', until: failure.retryAt, reason: failure.reason };
          case 'rate-limited':
            await fail(post, 'SCHEDULED', text);
            return { kind: 'rate-limited', retryAfterMs: failure.retryAfterMs };
          case 'sender':
            await fail(post, 'SCHEDULED', text, { attempts: db.raw('greatest(attempts - 1, 0)') });
            return pauseOnSenderFault(post, failure.reason);
          // A post has no recipient: a refusal naming one is still this post's own failure.
          case 'recipient':
          case 'message':
            await fail(post, 'DEAD', text);
            log.error({ postId: post.id, err: error }, 'publish failed permanently');
            throw new UnrecoverableError(text);
          case 'transient': {
            const finalAttempt = attempt.attemptsMade + 1 >= attempt.attempts;
            await fail(post, finalAttempt ? 'DEAD' : 'FAILED', text);
            throw error instanceof Error ? error : new Error(text);
          }
        }
      }
    },
  };
}

export type ContentCalendar = ReturnType<typeof contentCalendar>;
