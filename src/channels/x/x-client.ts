import { z } from 'zod';
import { PermanentSendError } from '../adapter.js';
import { httpError, requestJson, type HttpRefusal, type JsonResponse } from '../http/http-json.js';
import type { SocialClient } from '../social-client.js';

export interface XSettings {
  baseUrl: string;
  bearerToken: string;
  timeoutMs: number;
}

const dmAnswer = z.object({ data: z.object({ dm_event_id: z.string(), dm_conversation_id: z.string().optional() }) });
const tweetAnswer = z.object({ data: z.object({ id: z.string() }) });

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
 * X API v2: `POST /2/dm_conversations/with/:participant_id/messages` for direct messages and
 * `POST /2/tweets` for posts, with an OAuth 2.0 user-context bearer token. X takes no
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
  };
}
