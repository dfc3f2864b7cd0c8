import type { ChannelAdapter, SendResult } from './adapter.js';

/** A public post of the content calendar, as a platform client receives it. */
export interface PostRequest {
  /** The post's key (jobId); passed where a platform accepts an idempotency key. */
  key: string;
  text: string;
  mediaUrl: string | null;
}

/**
 * One social platform's API: direct messages to a lead, and public posts. Methods resolve with
 * the platform's id or throw the adapter error classes (see `http-json.ts`).
 */
export interface SocialClient {
  readonly provider: string;
  /** The account the token belongs to, as far as config says; names the breaker. */
  readonly account: string;
  sendMessage(recipient: string, text: string, signal?: AbortSignal): Promise<SendResult>;
  publish(post: PostRequest, signal?: AbortSignal): Promise<SendResult>;
}

/** The step-channel adapter of a platform: a step message is a direct message to the lead. */
export function socialAdapter(client: SocialClient): ChannelAdapter {
  return {
    provider: client.provider,
    account: client.account,
    send: (message, context) => client.sendMessage(message.recipient, message.body, context?.signal),
  };
}
