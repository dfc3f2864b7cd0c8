import type { ChannelAdapter, SendResult } from './adapter.js';

/** A public post of the content calendar, as a platform client receives it. */
export interface PostRequest {
  /** The post's key (jobId); passed where a platform accepts an idempotency key. */
  key: string;
  text: string;
  mediaUrl: string | null;
}

/**
 * What a platform reports about one published post, as it stands when read (lifetime totals);
 * null where the platform has no such figure.
 */
export interface PostEngagement {
  impressions: number | null;
  likes: number | null;
  reposts: number | null;
  replies: number | null;
  clicks: number | null;
  saves: number | null;
}

/** One post's figures, or the platform saying it no longer has the post (deleted there). */
export type PostMetricsReading = { status: 'OK'; engagement: PostEngagement } | { status: 'DELETED' };

/**
 * One social platform's API: direct messages to a lead, public posts, and what became of those
 * posts. Methods resolve with the platform's answer or throw the adapter error classes (see
 * `http-json.ts`; a 429 is a `RateLimitedError` with the platform's wait).
 */
export interface SocialClient {
  readonly provider: string;
  /** The account the token belongs to, as far as config says; names the breaker. */
  readonly account: string;
  sendMessage(recipient: string, text: string, signal?: AbortSignal): Promise<SendResult>;
  publish(post: PostRequest, signal?: AbortSignal): Promise<SendResult>;
  /** How many posts one {@link readPostMetrics} call may ask about (one request, or one per post). */
  readonly postMetricsBatch: number;
  /**
   * The engagement of published posts, by their platform id (the id `publish` returned). A post
   * the platform answers for with neither figures nor "not found" is left out of the map.
   */
  readPostMetrics(externalIds: readonly string[], signal?: AbortSignal): Promise<Map<string, PostMetricsReading>>;
}

/** The step-channel adapter of a platform: a step message is a direct message to the lead. */
export function socialAdapter(client: SocialClient): ChannelAdapter {
  return {
    provider: client.provider,
    account: client.account,
    send: (message, context) => client.sendMessage(message.recipient, message.body, context?.signal),
  };
}
