import { z } from 'zod';
import { AmbiguousSendError, PermanentSendError, RateLimitedError, SenderFaultError, TransientSendError } from '../adapter.js';
import { httpError, requestJson, type JsonResponse } from '../http/http-json.js';
import type { PostMetricsReading, SocialClient } from '../social-client.js';

export interface InstagramSettings {
  baseUrl: string;
  accessToken: string;
  /** The professional account id, or `me`. */
  accountId: string;
  /** Graph API version path segment, e.g. v21.0. */
  version: string;
  timeoutMs: number;
}

const idAnswer = z.object({ id: z.string() });
const messageAnswer = z.object({ message_id: z.string(), recipient_id: z.string().optional() });
/** `GET /{media-id}/insights`: one entry per metric asked for, its lifetime value first. */
const insightsAnswer = z.object({ data: z.array(z.object({ name: z.string(), values: z.array(z.object({ value: z.number() })).optional(), total_value: z.object({ value: z.number() }).optional() })) });
/** The media insights read for a post (Graph API names). */
const insightMetrics = ['impressions', 'likes', 'comments', 'shares', 'saved'] as const;
/** "Object with ID … does not exist": the media was deleted. */
function isMissingObject(code: number | undefined, subcode: number | undefined): boolean {
  return code === 100 && subcode === 33;
}
/** Graph API error codes that mean "too many calls" even when the HTTP status is 400. */
const throttlingCodes = new Set([4, 17, 32, 613]);
/** The Graph API error body: `{ error: { message, type, code, error_subcode, fbtrace_id } }`. */
const graphErrorBody = z.object({ error: z.object({ code: z.number().optional(), error_subcode: z.number().optional() }) });
/** Messaging refusals about the recipient: 551 "this person isn't available right now", 100/2018001 "no matching user found", 10/2018278 outside the allowed messaging window. */
function isRecipientRefusal(code: number | undefined, subcode: number | undefined): boolean {
  return code === 551 || (code === 100 && subcode === 2018001) || (code === 10 && subcode === 2018278);
}
/** Permission errors of our token or app: 10, 200–299 (permissions), 230 (messaging permission). */
function isPermissionError(code: number | undefined): boolean {
  return code === 10 || code === 230 || (code !== undefined && code >= 200 && code <= 299);
}

/**
 * The Instagram Graph API: a post is a media container (`POST /{ig-user}/media`) then a publish
 * (`POST /{ig-user}/media_publish`); a direct message is `POST /{ig-user}/messages`; a post's
 * engagement is `GET /{media-id}/insights`. The token
 * travels in the Authorization header, never in a URL. Creating a container publishes nothing,
 * so only the publish call can be ambiguous.
 */
export function instagramClient(settings: InstagramSettings): SocialClient {
  const root = `${settings.baseUrl.replace(/\/+$/, '')}/${settings.version}`;
  const base = `${root}/${encodeURIComponent(settings.accountId)}`;
  const headers = { authorization: `Bearer ${settings.accessToken}` };

  /** Sorts a Graph API error by its documented code and subcode; a DM refusal may be the recipient's. */
  function graphError(response: JsonResponse, directMessage: boolean): Error {
    const parsed = graphErrorBody.safeParse(response.body);
    const code = parsed.success ? parsed.data.error.code : undefined;
    const subcode = parsed.success ? parsed.data.error.error_subcode : undefined;
    if (code !== undefined && throttlingCodes.has(code)) return new RateLimitedError(`instagram throttled the account (code ${code})`, 60_000);
    if (code === 190) return new SenderFaultError('instagram refused our access token (code 190)');
    if (directMessage && isRecipientRefusal(code, subcode)) return httpError('instagram', response, 'recipient');
    if (isPermissionError(code)) return httpError('instagram', response, 'sender');
    return httpError('instagram', response);
  }

  async function call<T>(path: string, body: unknown, schema: z.ZodType<T>, signal: AbortSignal | undefined): Promise<T> {
    const response = await requestJson({ provider: 'instagram', method: 'POST', url: `${base}${path}`, headers, body, timeoutMs: settings.timeoutMs, signal });
    if (response.status < 200 || response.status >= 300) throw graphError(response, path === '/messages');
    const parsed = schema.safeParse(response.body);
    if (!parsed.success) throw new PermanentSendError(`instagram answered ${response.status} with an unexpected body`);
    return parsed.data;
  }

  /** One media's insights (impressions, likes, comments, shares, saves); a missing media was deleted. */
  async function readInsights(mediaId: string, signal: AbortSignal | undefined): Promise<PostMetricsReading> {
    const url = `${root}/${encodeURIComponent(mediaId)}/insights?metric=${insightMetrics.join(',')}`;
    const response = await requestJson({ provider: 'instagram', method: 'GET', url, headers, timeoutMs: settings.timeoutMs, signal });
    if (response.status === 404) return { status: 'DELETED' };
    if (response.status < 200 || response.status >= 300) {
      const parsed = graphErrorBody.safeParse(response.body);
      if (parsed.success && isMissingObject(parsed.data.error.code, parsed.data.error.error_subcode)) return { status: 'DELETED' };
      throw graphError(response, false);
    }
    const parsed = insightsAnswer.safeParse(response.body);
    if (!parsed.success) throw new PermanentSendError(`instagram answered ${response.status} with an unexpected body`);
    const value = (name: (typeof insightMetrics)[number]): number | null => {
      const entry = parsed.data.data.find((metric) => metric.name === name);
      return entry?.total_value?.value ?? entry?.values?.[0]?.value ?? null;
    };
    return {
      status: 'OK',
      engagement: { impressions: value('impressions'), likes: value('likes'), reposts: value('shares'), replies: value('comments'), clicks: null, saves: value('saved') },
    };
  }

  return {
    provider: 'instagram',
    account: settings.accountId,
    postMetricsBatch: 1,
    async readPostMetrics(mediaIds, signal) {
      const readings = new Map<string, PostMetricsReading>();
      for (const mediaId of mediaIds) readings.set(mediaId, await readInsights(mediaId, signal));
      return readings;
    },
    async sendMessage(recipient, text, signal) {
      const answer = await call('/messages', { recipient: { id: recipient }, message: { text } }, messageAnswer, signal);
      return { provider: 'instagram', externalId: answer.message_id, summary: `message ${answer.message_id}` };
    },
    async publish(request, signal) {
      if (request.mediaUrl === null) throw new PermanentSendError('an Instagram post needs a media URL');
      const container = await call('/media', { image_url: request.mediaUrl, caption: request.text }, idAnswer, signal).catch((error: unknown) => {
        // An unanswered container creation published nothing: retrying it is safe.
        throw error instanceof AmbiguousSendError ? new TransientSendError(error.message) : error;
      });
      const media = await call('/media_publish', { creation_id: container.id }, idAnswer, signal);
      return { provider: 'instagram', externalId: media.id, summary: `media ${media.id} (container ${container.id})` };
    },
  };
}
