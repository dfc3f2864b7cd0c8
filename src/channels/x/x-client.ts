import { z } from 'zod';
import { PermanentSendError } from '../adapter.js';
import { httpError, requestJson } from '../http/http-json.js';
import type { SocialClient } from '../social-client.js';

export interface XSettings {
  baseUrl: string;
  bearerToken: string;
  timeoutMs: number;
}

const dmAnswer = z.object({ data: z.object({ dm_event_id: z.string(), dm_conversation_id: z.string().optional() }) });
const tweetAnswer = z.object({ data: z.object({ id: z.string() }) });

/**
 * X API v2: `POST /2/dm_conversations/with/:participant_id/messages` for direct messages and
 * `POST /2/tweets` for posts, with an OAuth 2.0 user-context bearer token. X takes no
 * idempotency key, so a timeout after the request left is ambiguous and never retried. Media
 * needs X's separate upload API; a post's media URL is appended to its text (X shows a card).
 */
export function xClient(settings: XSettings): SocialClient {
  const base = settings.baseUrl.replace(/\/+$/, '');
  const headers = { authorization: `Bearer ${settings.bearerToken}` };
  async function post<T>(path: string, body: unknown, schema: z.ZodType<T>, signal: AbortSignal): Promise<T> {
    const response = await requestJson({ provider: 'x', method: 'POST', url: `${base}${path}`, headers, body, timeoutMs: settings.timeoutMs, signal });
    if (response.status < 200 || response.status >= 300) throw httpError('x', response);
    const parsed = schema.safeParse(response.body);
    if (!parsed.success) throw new PermanentSendError(`x answered ${response.status} with an unexpected body`);
    return parsed.data;
  }
  return {
    provider: 'x',
    account: 'default',
    async sendMessage(recipient, text, signal) {
      const answer = await post(`/2/dm_conversations/with/${encodeURIComponent(recipient)}/messages`, { text }, dmAnswer, signal);
      return { provider: 'x', externalId: answer.data.dm_event_id, summary: `dm ${answer.data.dm_event_id}` };
    },
    async publish(request, signal) {
      const text = request.mediaUrl === null ? request.text : `${request.text} ${request.mediaUrl}`;
      const answer = await post('/2/tweets', { text }, tweetAnswer, signal);
      return { provider: 'x', externalId: answer.data.id, summary: `tweet ${answer.data.id}` };
    },
  };
}
