import { PermanentSendError } from '../adapter.js';
import { z } from 'zod';
import { httpError, requestJson, type HttpRefusal, type JsonResponse } from '../http/http-json.js';
import type { SocialClient } from '../social-client.js';

export interface LinkedinSettings {
  baseUrl: string;
  accessToken: string;
  /** The URN posts are published as; required for posts only. */
  authorUrn: string | undefined;
  /** The `LinkedIn-Version` header (YYYYMM). */
  version: string;
  timeoutMs: number;
}

/** LinkedIn's error body: `{ message, serviceErrorCode, status }`. */
const linkedinError = z.object({ message: z.string().optional(), serviceErrorCode: z.number().optional() });

/**
 * Whose problem a refused message is. The Messages API only reaches first-degree connections:
 * a recipient that does not exist (404) or that the answer names as not messageable (not a
 * connection, an invalid recipient) is the lead's. A 401, or a 403 about our permissions, stays
 * ours (the generic mapping), and so does anything LinkedIn does not pin on the recipient.
 */
function messageRefusal(response: JsonResponse): HttpRefusal | undefined {
  if (response.status === 404) return 'recipient';
  if (response.status === 401 || response.status >= 500) return undefined;
  const parsed = linkedinError.safeParse(response.body);
  const message = parsed.success ? (parsed.data.message ?? '') : '';
  if (/\bpermissions?\b|\btoken\b|\bscope/i.test(message)) return undefined;
  return /\brecipients?\b|\bconnections?\b|\b(1st|first)[- ]degree\b|\bmember\b.*\b(not found|does not exist)/i.test(message) ? 'recipient' : undefined;
}

/** A lead's LinkedIn id as a member URN. */
function memberUrn(id: string): string {
  return id.startsWith('urn:li:') ? id : `urn:li:person:${id}`;
}

/**
 * LinkedIn's versioned REST API: `POST /rest/posts` (201 with the post URN in `x-restli-id`)
 * and `POST /rest/messages` (the Messages API, partner access), with an OAuth 2.0 bearer token,
 * the `LinkedIn-Version` header and Rest.li protocol 2.0.0. A post's media URL is published as
 * an article attachment.
 */
export function linkedinClient(settings: LinkedinSettings): SocialClient {
  const base = settings.baseUrl.replace(/\/+$/, '');
  const headers = {
    authorization: `Bearer ${settings.accessToken}`,
    'linkedin-version': settings.version,
    'x-restli-protocol-version': '2.0.0',
  };
  async function create(path: string, body: unknown, signal: AbortSignal | undefined): Promise<string> {
    const response: JsonResponse = await requestJson({ provider: 'linkedin', method: 'POST', url: `${base}${path}`, headers, body, timeoutMs: settings.timeoutMs, signal });
    if (response.status < 200 || response.status >= 300) throw httpError('linkedin', response, path === '/rest/messages' ? messageRefusal(response) : undefined);
    const id = response.headers['x-restli-id'] ?? response.headers['x-linkedin-id'];
    const fromBody = (response.body as { id?: unknown } | undefined)?.id;
    const externalId = typeof id === 'string' ? id : typeof fromBody === 'string' ? fromBody : undefined;
    if (externalId === undefined) throw new PermanentSendError(`linkedin answered ${response.status} without the created id`);
    return externalId;
  }
  return {
    provider: 'linkedin',
    account: settings.authorUrn ?? 'default',
    async sendMessage(recipient, text, signal) {
      const id = await create('/rest/messages', { recipients: [memberUrn(recipient)], body: text, messageType: 'MEMBER_TO_MEMBER' }, signal);
      return { provider: 'linkedin', externalId: id, summary: `message ${id}` };
    },
    async publish(request, signal) {
      if (settings.authorUrn === undefined) throw new PermanentSendError('LINKEDIN_AUTHOR_URN is not set; posts need an author');
      const id = await create(
        '/rest/posts',
        {
          author: settings.authorUrn,
          commentary: request.text,
          visibility: 'PUBLIC',
          distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
          lifecycleState: 'PUBLISHED',
          isReshareDisabledByAuthor: false,
          ...(request.mediaUrl === null ? {} : { content: { article: { source: request.mediaUrl, title: request.text.slice(0, 200) } } }),
        },
        signal,
      );
      return { provider: 'linkedin', externalId: id, summary: `post ${id}` };
    },
  };
}
