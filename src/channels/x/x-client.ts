import { z } from 'zod';
import { PermanentSendError } from '../adapter.js';
import { httpError, requestJson, type HttpRefusal, type JsonResponse } from '../http/http-json.js';
import type { PostMetricsReading, SocialClient } from '../social-client.js';

export interface XSettings {
  baseUrl: string;
  bearerToken: string;
  timeoutMs: number;
}

const dmAnswer = z.object({ data: z.object({ dm_event_id: z.string(), dm_conversation_id: z.string().optional() }) });
const tweetAnswer = z.object({ data: z.object({ id: z.string() }) });
/** `GET /2/tweets?ids=…&tweet.fields=public_metrics`: the tweets found, and a problem per id that was not. */
const tweetMetricsAnswer = z.object({
  data: z
    .array(
      z.object({
        id: z.string(),
        public_metrics: z.object({
          retweet_count: z.number().int(),
          reply_count: z.number().int(),
          like_count: z.number().int(),
          quote_count: z.number().int(),
          bookmark_count: z.number().int().optional(),
          impression_count: z.number().int().optional(),
        }),
      }),
    )
    .optional(),
  errors: z.array(z.object({ resource_id: z.string().optional(), value: z.string().optional(), type: z.string().optional() })).optional(),
});

/** X looks up at most 100 tweets per request. */
const tweetsPerLookup = 100;

/**
 * X API v2 error bodies are problem documents: `{ type, title, detail, status }`, an invalid
 * request adding `errors: [{ message, parameters }]`. The `type` URI names the problem
 * (`https://api.x.com/2/problems/<name>`; `about:blank` for a plain HTTP error).
 */
const xProblem = z.object({
  type: z.string().optional(),
  title: z.string().optional(),
  detail: z.string().optional(),
  errors: z.array(z.object({ message: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional() })).optional(),
});

/** Problems about our app or token: the account's fault, whatever the endpoint. */
const xSenderProblems = new Set(['client-forbidden', 'unsupported-authentication', 'oauth1-permissions', 'not-authorized-for-endpoint']);
const xSenderWords = /\b(oauth|scopes?|app|application|client|token|authenticat\w*|access level|permissions?|project|your account)\b/i;

/**
 * Whose problem an X refusal is. A DM refused with 403 for anything but our app or token (the
 * user does not accept DMs from us, blocked us), or refused because the participant does not
 * exist (404, or an invalid `participant_id`), is the recipient's; a refused tweet with 403
 * (duplicate content) is the post's; a 401 or a 403 about the app/token is ours.
 */
function xRefusal(response: JsonResponse, directMessage: boolean): HttpRefusal | undefined {
  const problem = xProblem.safeParse(response.body);
  if (!problem.success) return undefined;
  const name = problem.data.type?.split('/').pop() ?? '';
  const words = `${problem.data.title ?? ''} ${problem.data.detail ?? ''}`;
  if (response.status === 403) {
    if (xSenderProblems.has(name) || xSenderWords.test(words)) return 'sender';
    return directMessage ? 'recipient' : 'message';
  }
  if (!directMessage) return undefined;
  if (response.status === 404 || name === 'resource-not-found') return 'recipient';
  const aboutParticipant = problem.data.errors?.some((error) => error.parameters?.participant_id !== undefined) === true;
  return response.status === 400 && aboutParticipant ? 'recipient' : undefined;
}

/**
 * X API v2: `POST /2/dm_conversations/with/:participant_id/messages` for direct messages,
 * `POST /2/tweets` for posts and `GET /2/tweets` for their metrics, with an OAuth 2.0
 * user-context bearer token. X takes no
 * idempotency key, so a timeout after the request left is ambiguous and never retried. Media
 * needs X's separate upload API; a post's media URL is appended to its text (X shows a card).
 */
export function xClient(settings: XSettings): SocialClient {
  const base = settings.baseUrl.replace(/\/+$/, '');
  const headers = { authorization: `Bearer ${settings.bearerToken}` };
  async function post<T>(path: string, body: unknown, schema: z.ZodType<T>, signal: AbortSignal | undefined, directMessage: boolean): Promise<T> {
    const response = await requestJson({ provider: 'x', method: 'POST', url: `${base}${path}`, headers, body, timeoutMs: settings.timeoutMs, signal });
    if (response.status < 200 || response.status >= 300) throw httpError('x', response, xRefusal(response, directMessage));
    const parsed = schema.safeParse(response.body);
    if (!parsed.success) throw new PermanentSendError(`x answered ${response.status} with an unexpected body`);
    return parsed.data;
  }
  return {
    provider: 'x',
    account: 'default',
    async sendMessage(recipient, text, signal) {
      const answer = await post(`/2/dm_conversations/with/${encodeURIComponent(recipient)}/messages`, { text }, dmAnswer, signal, true);
      return { provider: 'x', externalId: answer.data.dm_event_id, summary: `dm ${answer.data.dm_event_id}` };
    },
    async publish(request, signal) {
      const text = request.mediaUrl === null ? request.text : `${request.text} ${request.mediaUrl}`;
      const answer = await post('/2/tweets', { text }, tweetAnswer, signal, false);
      return { provider: 'x', externalId: answer.data.id, summary: `tweet ${answer.data.id}` };
    },
    postMetricsBatch: tweetsPerLookup,
    /**
     * One lookup of up to 100 tweets with their `public_metrics`: impressions, likes, reposts
     * (retweets and quotes), replies and saves (bookmarks); X has no public click count. A tweet
     * X reports as `resource-not-found` was deleted (or its account is gone).
     */
    async readPostMetrics(ids, signal) {
      const query = new URLSearchParams({ ids: ids.join(','), 'tweet.fields': 'public_metrics' });
      const response = await requestJson({ provider: 'x', method: 'GET', url: `${base}/2/tweets?${query.toString()}`, headers, timeoutMs: settings.timeoutMs, signal });
      if (response.status < 200 || response.status >= 300) throw httpError('x', response);
      const parsed = tweetMetricsAnswer.safeParse(response.body);
      if (!parsed.success) throw new PermanentSendError(`x answered ${response.status} with an unexpected body`);
      const readings = new Map<string, PostMetricsReading>();
      for (const tweet of parsed.data.data ?? []) {
        const figures = tweet.public_metrics;
        readings.set(tweet.id, {
          status: 'OK',
          engagement: {
            impressions: figures.impression_count ?? null,
            likes: figures.like_count,
            reposts: figures.retweet_count + figures.quote_count,
            replies: figures.reply_count,
            clicks: null,
            saves: figures.bookmark_count ?? null,
          },
        });
      }
      for (const problem of parsed.data.errors ?? []) {
        const id = problem.resource_id ?? problem.value;
        if (id !== undefined && problem.type?.endsWith('/resource-not-found') === true) readings.set(id, { status: 'DELETED' });
      }
      return readings;
    },
  };
}
