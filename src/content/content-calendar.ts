import { DomainError, type DomainErrorKind } from '../core/domain-error.js';
import type { QueueRegistry } from '../jobs/queue-registry.js';
import type { AttemptInfo } from '../jobs/job-decision.js';
import type { CampaignDefinition } from '../campaigns/campaign-definition.js';
import { DeliveryPipeline } from '../delivery/delivery-pipeline.js';
import type { DeliveryDecision } from '../delivery/delivery-decision.js';
import { findPost, listPosts, transitionPost, WAITING_STATUSES, type CampaignPost } from '../campaigns/post-store.js';
import { PublishRoute, type PublishRouteDeps } from './publish-route.js';

export interface ContentCalendarDeps extends PublishRouteDeps {
  queues: QueueRegistry;
}

/** Raised for an operator request the post's state does not allow. */
export class PostStateError extends DomainError {
  constructor(message: string, kind: Extract<DomainErrorKind, 'not-found' | 'conflict'> = 'conflict') {
    super(message, kind);
  }
}

/**
 * The content calendar: a campaign's public posts, each published once at its time by a delayed
 * `publish-<platform>` job whose id is the post key. Posts are rows of the campaign's definition
 * (written when it is created or edited) and their jobs are (re-)added by every tick, so a Redis
 * flush loses nothing; Postgres status (compare-and-set to PUBLISHING before the platform call)
 * keeps each post to one publish. Posts go through the same delivery pipeline as messages: kill
 * switch, campaign state, review approval, one classification of every failure.
 */
export function contentCalendar(deps: ContentCalendarDeps) {
  const { db, queues, clock } = deps;
  const pipeline = new DeliveryPipeline(new PublishRoute(deps), deps);
  async function enqueue(posts: readonly CampaignPost[]): Promise<number> {
    const now = clock.now().getTime();
    let added = 0;
    for (const post of posts) {
      added += await queues.addMany(queues.directory.publish[post.platform], [
        { data: { postId: post.id }, opts: { jobId: post.postKey, delay: Math.max(0, post.scheduledAt.getTime() - now) } },
      ]);
    }
    return added;
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

    /** Publishes one post if every gate allows it now (see {@link PublishRoute}), and records the outcome. */
    publish(postId: number, attempt: AttemptInfo): Promise<DeliveryDecision> {
      return pipeline.deliver(postId, attempt);
    },
  };
}

export type ContentCalendar = ReturnType<typeof contentCalendar>;
