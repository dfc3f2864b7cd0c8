import { PermanentSendError } from '../adapter.js';
import { z } from 'zod';
import { httpError, requestJson, type HttpRefusal, type JsonResponse } from '../http/http-json.js';
import type { PostEngagement, PostMetricsReading, SocialClient } from '../social-client.js';

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

/** `GET /rest/socialActions/{urn}`: the post's like and comment summaries. */
const socialActions = z.object({
  likesSummary: z.object({ totalLikes: z.number().int() }).partial().optional(),
  commentsSummary: z.object({ aggregatedTotalComments: z.number().int(), totalFirstLevelComments: z.number().int() }).partial().optional(),
});

/** `GET /rest/organizationalEntityShareStatistics`: an organization's figures for its posts. */
const shareStatistics = z.object({
  elements: z.array(
    z.object({
      totalShareStatistics: z
        .object({ impressionCount: z.number().int(), likeCount: z.number().int(), commentCount: z.number().int(), shareCount: z.number().int(), clickCount: z.number().int() })
        .partial(),
    }),
  ),
});

/** A lead's LinkedIn id as a member URN. */
function memberUrn(id: string): string {
  return id.startsWith('urn:li:') ? id : `urn:li:person:${id}`;
}

/**
 * LinkedIn's versioned REST API: `POST /rest/posts` (201 with the post URN in `x-restli-id`),
 * `POST /rest/messages` (the Messages API, partner access), and a post's engagement from
 * `GET /rest/socialActions/{urn}` and, for an organization's posts,
 * `GET /rest/organizationalEntityShareStatistics`, with an OAuth 2.0 bearer token,
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
  async function read<T>(path: string, schema: z.ZodType<T>, signal: AbortSignal | undefined): Promise<T | 'not-found'> {
    const response = await requestJson({ provider: 'linkedin', method: 'GET', url: `${base}${path}`, headers, timeoutMs: settings.timeoutMs, signal });
    if (response.status === 404) return 'not-found';
    if (response.status < 200 || response.status >= 300) throw httpError('linkedin', response);
    const parsed = schema.safeParse(response.body);
    if (!parsed.success) throw new PermanentSendError(`linkedin answered ${response.status} with an unexpected body`);
    return parsed.data;
  }

  /**
   * One post's engagement: likes and comments from its social actions (404: the post is gone);
   * when the author is an organization, its share statistics add impressions, reposts and clicks.
   */
  async function readOne(urn: string, signal: AbortSignal | undefined): Promise<PostMetricsReading> {
    const actions = await read(`/rest/socialActions/${encodeURIComponent(urn)}`, socialActions, signal);
    if (actions === 'not-found') return { status: 'DELETED' };
    const engagement: PostEngagement = {
      impressions: null,
      likes: actions.likesSummary?.totalLikes ?? null,
      reposts: null,
      replies: actions.commentsSummary?.aggregatedTotalComments ?? actions.commentsSummary?.totalFirstLevelComments ?? null,
      clicks: null,
      saves: null,
    };
    const organization = settings.authorUrn?.startsWith('urn:li:organization:') === true ? settings.authorUrn : undefined;
    if (organization === undefined) return { status: 'OK', engagement };
    const list = urn.startsWith('urn:li:ugcPost:') ? 'ugcPosts' : 'shares';
    const statistics = await read(
      `/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=${encodeURIComponent(organization)}&${list}=List(${encodeURIComponent(urn)})`,
      shareStatistics,
      signal,
    );
    const totals = statistics === 'not-found' ? undefined : statistics.elements[0]?.totalShareStatistics;
    if (totals === undefined) return { status: 'OK', engagement };
    return {
      status: 'OK',
      engagement: {
        ...engagement,
        impressions: totals.impressionCount ?? null,
        likes: totals.likeCount ?? engagement.likes,
        replies: totals.commentCount ?? engagement.replies,
        reposts: totals.shareCount ?? null,
        clicks: totals.clickCount ?? null,
      },
    };
  }

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
    postMetricsBatch: 1,
    async readPostMetrics(urns, signal) {
      const readings = new Map<string, PostMetricsReading>();
      for (const urn of urns) readings.set(urn, await readOne(urn, signal));
      return readings;
    },
  };
}
