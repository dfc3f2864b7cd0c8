import { UnrecoverableError } from 'bullmq';
import type { Knex } from 'knex';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../core/clock.js';
import type { SendResult } from '../channels/adapter.js';
import { missingAdapterFailure } from '../channels/delivery-failure.js';
import type { PostPublisher } from '../channels/live-channels.js';
import type { SocialPlatform } from '../core/channels.js';
import type { CampaignPauser } from '../delivery/campaign-pauser.js';
import { findCampaign, type Campaign, type CampaignStatus } from '../campaigns/campaign-store.js';
import type { DeliveryDecision, DeliveryResult, Hold } from '../delivery/delivery-decision.js';
import type { CampaignGate, DeliveryFacts, DeliveryRoute, DeliveryTarget, FailedCall, MissingTarget } from '../delivery/delivery-pipeline.js';
import { readKillSwitch } from '../settings/kill-switch.js';
import { claimPost, findPost, PUBLISHABLE_STATUSES, transitionPost, type CampaignPost, type PostStatus } from '../campaigns/post-store.js';

/** What each campaign status means for a post: a finished sequence does not cancel the calendar, so COMPLETED campaigns still publish. */
const publishCampaignGate: Readonly<Record<CampaignStatus, CampaignGate>> = {
  DRAFT: 'hold',
  ACTIVE: 'deliver',
  PAUSED: 'hold',
  COMPLETED: 'deliver',
  ARCHIVED: 'skip',
};

/** The post status each settlement of a failed call writes. A post has no recipient: a refusal naming one is still the post's own (DEAD). */
const failedCallStatus = { unknown: 'UNKNOWN', waiting: 'SCHEDULED', retrying: 'FAILED', dead: 'DEAD' } as const satisfies Record<FailedCall['to'], PostStatus>;

export interface PublishRouteDeps {
  db: Knex;
  clock: Clock;
  log: Logger;
  /** LIVE publishers by platform; PROOF campaigns publish nothing and record PUBLISHED_PROOF. */
  publishers: Partial<Record<SocialPlatform, PostPublisher>>;
  /** Pauses the campaigns of an account that failed (a fault that is not the post's). */
  campaigns: CampaignPauser;
}

/** A post with what its gates read: its campaign and the kill switch. */
export interface PostDelivery {
  post: CampaignPost;
  campaign: Campaign;
  killed: boolean;
}

/** Where a post is published: a platform's publisher behind its breaker, or the PROOF stand-in. */
export type PostTarget = DeliveryTarget & Pick<PostPublisher, 'publish'>;

/** A post ready to claim, with its publisher. */
export interface PreparedPost extends PostDelivery {
  publisher: PostTarget;
}

/** A PROOF campaign's post reaches no platform: it is recorded published as `proof-post-<id>`. */
function proofPublisher(postId: number): PostTarget {
  return { provider: 'proof', publish: () => Promise.resolve({ provider: 'proof', externalId: `proof-post-${postId}` }) };
}

/**
 * How a content-calendar post is delivered (the delivery pipeline runs the sequence): read with
 * its campaign, gated by its schedule, published by its platform's publisher (PROOF: by no
 * platform), claimed by a compare-and-set to PUBLISHING that counts the attempt, and settled by
 * the post's status transitions.
 */
export class PublishRoute implements DeliveryRoute<PostDelivery, PostTarget, PreparedPost> {
  readonly names = { noun: 'post', verb: 'publish' };

  constructor(private readonly deps: PublishRouteDeps) {}

  async read(postId: number): Promise<PostDelivery | undefined> {
    const { db } = this.deps;
    const post = await findPost(db, postId);
    if (post === undefined) return undefined;
    const killed = (await readKillSwitch(db)).on;
    const campaign = await findCampaign(db, post.campaignId);
    if (campaign === undefined) throw new UnrecoverableError(`campaign ${post.campaignId} of post ${postId} does not exist`);
    return { post, campaign, killed };
  }

  facts({ post, campaign, killed }: PostDelivery): DeliveryFacts {
    return {
      status: post.status,
      deliverable: PUBLISHABLE_STATUSES.includes(post.status),
      killed,
      campaignStatus: campaign.status,
      campaignGate: publishCampaignGate[campaign.status],
    };
  }

  async skip({ post }: PostDelivery, reason: string): Promise<DeliveryDecision> {
    await transitionPost(this.deps.db, post.id, PUBLISHABLE_STATUSES, 'SKIPPED', this.deps.clock.now(), { skip_reason: reason });
    return { kind: 'skipped', reason };
  }

  gate({ post }: PostDelivery, now: Date): Hold | undefined {
    return post.scheduledAt.getTime() > now.getTime() ? { kind: 'hold', until: post.scheduledAt, reason: 'not yet due' } : undefined;
  }

  target({ post, campaign }: PostDelivery): PostTarget | MissingTarget {
    if (campaign.mode === 'PROOF') return proofPublisher(post.id);
    return this.deps.publishers[post.platform] ?? { missing: missingAdapterFailure(post.platform).reason };
  }

  prepare(delivery: PostDelivery, publisher: PostTarget): PreparedPost {
    return { ...delivery, publisher };
  }

  async claim({ post }: PreparedPost, now: Date): Promise<DeliveryDecision | undefined> {
    return (await claimPost(this.deps.db, post.id, now)) ? undefined : { kind: 'not-deliverable', status: 'changed concurrently' };
  }

  call({ post, publisher }: PreparedPost): Promise<SendResult> {
    return publisher.publish({ key: post.postKey, text: post.text, mediaUrl: post.mediaUrl });
  }

  async settleDelivered({ post, campaign }: PreparedPost, result: SendResult): Promise<DeliveryResult> {
    const status = campaign.mode === 'PROOF' ? 'PUBLISHED_PROOF' : 'PUBLISHED';
    const now = this.deps.clock.now();
    await transitionPost(this.deps.db, post.id, ['PUBLISHING'], status, now, {
      provider: result.provider,
      external_id: result.externalId,
      published_at: now,
      last_error: null,
    });
    if (status === 'PUBLISHED') this.deps.log.info({ postId: post.id, platform: post.platform, externalId: result.externalId }, 'post published');
    return { kind: 'delivered', status, externalId: result.externalId };
  }

  async settleFailed({ post }: PreparedPost, failed: FailedCall): Promise<void> {
    const { db, clock } = this.deps;
    await transitionPost(db, post.id, ['PUBLISHING'], failedCallStatus[failed.to], clock.now(), {
      last_error: failed.error,
      ...(failed.to === 'waiting' && failed.giveBackAttempt ? { attempts: db.raw('greatest(attempts - 1, 0)') } : {}),
    });
  }

  /**
   * Every ACTIVE LIVE campaign using the platform pauses. A post of a COMPLETED campaign (which
   * keeps publishing) has no campaign left to pause: it waits and tries again after the same hold.
   */
  async pause({ post }: PostDelivery, reason: string): Promise<void> {
    const paused = await this.deps.campaigns.pauseForSenderFault({ channel: post.platform, campaignId: post.campaignId, reason });
    if (paused.length === 0) this.deps.log.warn({ postId: post.id, platform: post.platform, reason }, 'publish held: the account failed; fix it');
  }

  logFields({ post }: PostDelivery): Record<string, unknown> {
    return { postId: post.id };
  }
}
