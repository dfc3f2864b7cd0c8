import type { Config } from '../config/config.js';
import type { Channel, SocialPlatform } from '../core/channels.js';
import type { ChannelAdapter, SendResult } from './adapter.js';
import { smtpAdapter } from './email/smtp-adapter.js';
import { xClient } from './x/x-client.js';
import { linkedinClient } from './linkedin/linkedin-client.js';
import { instagramClient } from './instagram/instagram-client.js';
import { socialAdapter, type PostMetricsReading, type PostRequest, type SocialClient } from './social-client.js';
import type { BreakerRegistry } from './resilience/breakers.js';
import { guardAdapter, guardedCalls } from './resilience/guarded-adapter.js';


/** Publishes content-calendar posts on one platform, behind that account's breaker. */
export interface PostPublisher {
  readonly provider: string;
  publish(post: PostRequest, signal?: AbortSignal): Promise<SendResult>;
  /** When the breaker is open: the time of its half-open trial. */
  openUntil(): Date | undefined;
}

/** Reads published posts' engagement on one platform, behind that account's breaker. */
export interface PostMetricsReader {
  readonly provider: string;
  /** How many posts one `read` may ask about. */
  readonly batch: number;
  read(externalIds: readonly string[], signal?: AbortSignal): Promise<Map<string, PostMetricsReading>>;
  /** When the breaker is open: the time of its half-open trial. */
  openUntil(): Date | undefined;
}

export interface LiveChannels {
  adapters: Partial<Record<Channel, ChannelAdapter>>;
  publishers: Partial<Record<SocialPlatform, PostPublisher>>;
  postMetrics: Partial<Record<SocialPlatform, PostMetricsReader>>;
}

/** A social client's posts behind the same breaker and send timeout as its messages (same account). */
export function guardPublisher(client: SocialClient, breakers: BreakerRegistry, timeoutMs: number): PostPublisher {
  const name = `${client.provider}:${client.account}`;
  const guarded = guardedCalls(breakers, name, client.provider, timeoutMs);
  return {
    provider: client.provider,
    openUntil: () => breakers.openUntil(name),
    publish: (post, signal) => guarded((callSignal) => client.publish(post, callSignal), signal),
  };
}

/** A social client's metrics reads behind the same breaker and timeout as its posts and messages (same account). */
export function guardMetricsReader(client: SocialClient, breakers: BreakerRegistry, timeoutMs: number): PostMetricsReader {
  const name = `${client.provider}:${client.account}`;
  const guarded = guardedCalls(breakers, name, client.provider, timeoutMs);
  return {
    provider: client.provider,
    batch: client.postMetricsBatch,
    openUntil: () => breakers.openUntil(name),
    read: (ids, signal) => guarded((callSignal) => client.readPostMetrics(ids, callSignal), signal),
  };
}

/** The social clients configured (a platform is configured when its token is set). */
export function socialClients(config: Config): Partial<Record<SocialPlatform, SocialClient>> {
  const clients: Partial<Record<SocialPlatform, SocialClient>> = {};
  const timeoutMs = config.HTTP_TIMEOUT;
  if (config.X_BEARER_TOKEN !== undefined) clients.x = xClient({ baseUrl: config.X_API_BASE_URL, bearerToken: config.X_BEARER_TOKEN, timeoutMs });
  if (config.LINKEDIN_ACCESS_TOKEN !== undefined) {
    clients.linkedin = linkedinClient({
      baseUrl: config.LINKEDIN_API_BASE_URL,
      accessToken: config.LINKEDIN_ACCESS_TOKEN,
      authorUrn: config.LINKEDIN_AUTHOR_URN,
      version: config.LINKEDIN_API_VERSION,
      timeoutMs,
    });
  }
  if (config.INSTAGRAM_ACCESS_TOKEN !== undefined) {
    clients.instagram = instagramClient({
      baseUrl: config.INSTAGRAM_API_BASE_URL,
      accessToken: config.INSTAGRAM_ACCESS_TOKEN,
      accountId: config.INSTAGRAM_ACCOUNT_ID,
      version: config.INSTAGRAM_API_VERSION,
      timeoutMs,
    });
  }
  return clients;
}

/**
 * The LIVE adapters, post publishers and post metrics readers that config enables, each behind
 * its account's breaker with the send timeout: SMTP when SMTP_URL is set, each platform when its token is.
 */
export function buildLiveChannels(config: Config, breakers: BreakerRegistry): LiveChannels {
  const adapters: Partial<Record<Channel, ChannelAdapter>> = {};
  const publishers: Partial<Record<SocialPlatform, PostPublisher>> = {};
  const postMetrics: Partial<Record<SocialPlatform, PostMetricsReader>> = {};
  if (config.SMTP_URL !== undefined) {
    adapters.email = guardAdapter(
      smtpAdapter({ url: config.SMTP_URL, timeoutMs: config.SMTP_TIMEOUT, postalAddress: config.POSTAL_ADDRESS }),
      breakers,
      'email',
      config.SEND_TIMEOUT,
    );
  }
  for (const [platform, client] of Object.entries(socialClients(config)) as Array<[SocialPlatform, SocialClient]>) {
    adapters[platform] = guardAdapter(socialAdapter(client), breakers, platform, config.SEND_TIMEOUT);
    publishers[platform] = guardPublisher(client, breakers, config.SEND_TIMEOUT);
    postMetrics[platform] = guardMetricsReader(client, breakers, config.SEND_TIMEOUT);
  }
  return { adapters, publishers, postMetrics };
}
