import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  at: number;
}

/** One answer of the fake platform; `hang` never answers. */
export type Answer = { status: number; headers?: Record<string, string>; body?: unknown } | 'hang';
export type Responder = (request: RecordedRequest) => Answer;

/**
 * A local HTTP server (127.0.0.1, port 0) that speaks a platform API's request and response
 * shapes: it records every request and answers from a queue of responders (the last repeats).
 */
export async function startPlatformServer(initial: Responder) {
  const requests: RecordedRequest[] = [];
  let responders: Responder[] = [initial];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown), at: Date.now() };
      requests.push(recorded);
      const responder = responders.length > 1 ? responders.shift() : responders[0];
      const answer = responder?.(recorded) ?? { status: 500 };
      if (answer === 'hang') {
        hanging.push(res);
        return;
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Sets the responders of the next requests (the last one repeats). */
    answer(...next: Responder[]) {
      responders = next;
    },
    async close() {
      for (const res of hanging.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type PlatformServer = Awaited<ReturnType<typeof startPlatformServer>>;

/** What a fake platform knows about one published post: its figures, or that it was deleted. */
export type FakePost = { deleted: true } | { deleted?: false; impressions: number; likes: number; reposts: number; replies: number; clicks: number; saves: number };

/**
 * A responder that speaks the platforms' engagement endpoints over `posts` (keyed by the id the
 * platform gave the post): X `GET /2/tweets?ids=…&tweet.fields=public_metrics` (a deleted
 * tweet is a `resource-not-found` problem beside the found ones), LinkedIn
 * `GET /rest/socialActions/{urn}` (404 when deleted) and
 * `GET /rest/organizationalEntityShareStatistics` (`shares=List(urn)`), Instagram
 * `GET /{version}/{media-id}/insights` (error 100/33 when deleted). Anything else is 404.
 */
export function engagementApi(posts: ReadonlyMap<string, FakePost>): Responder {
  return (request) => {
    const url = new URL(request.path, 'http://platform.test');
    if (request.method === 'GET' && url.pathname === '/2/tweets') {
      const ids = (url.searchParams.get('ids') ?? '').split(',');
      if (url.searchParams.get('tweet.fields') !== 'public_metrics') return { status: 400, body: { title: 'Invalid Request' } };
      const found = ids.flatMap((id) => {
        const post = posts.get(id);
        if (post === undefined || post.deleted === true) return [];
        return [{ id, text: 'tweet', public_metrics: { retweet_count: post.reposts - 1, quote_count: 1, reply_count: post.replies, like_count: post.likes, bookmark_count: post.saves, impression_count: post.impressions } }];
      });
      const missing = ids.filter((id) => posts.get(id)?.deleted !== false && !found.some((tweet) => tweet.id === id));
      return {
        status: 200,
        body: {
          ...(found.length === 0 ? {} : { data: found }),
          ...(missing.length === 0
            ? {}
            : {
                errors: missing.map((id) => ({
                  value: id,
                  detail: `Could not find tweet with ids: [${id}].`,
                  title: 'Not Found Error',
                  resource_type: 'tweet',
                  parameter: 'ids',
                  resource_id: id,
                  type: 'https://api.twitter.com/2/problems/resource-not-found',
                })),
              }),
        },
      };
    }
    const socialActions = /^\/rest\/socialActions\/([^/]+)$/.exec(url.pathname);
    if (request.method === 'GET' && socialActions !== null) {
      const urn = decodeURIComponent(socialActions[1] as string);
      const post = posts.get(urn);
      if (post === undefined || post.deleted === true) return { status: 404, body: { status: 404, message: `Not found: ${urn}` } };
      return { status: 200, body: { target: urn, likesSummary: { totalLikes: post.likes, likedByCurrentUser: false }, commentsSummary: { aggregatedTotalComments: post.replies, totalFirstLevelComments: post.replies } } };
    }
    if (request.method === 'GET' && url.pathname === '/rest/organizationalEntityShareStatistics') {
      const list = /^List\((.*)\)$/.exec(url.searchParams.get('shares') ?? url.searchParams.get('ugcPosts') ?? '');
      const post = list === null ? undefined : posts.get(decodeURIComponent(list[1] as string));
      if (url.searchParams.get('q') !== 'organizationalEntity' || post === undefined || post.deleted === true) return { status: 200, body: { elements: [] } };
      return {
        status: 200,
        body: {
          elements: [
            {
              organizationalEntity: url.searchParams.get('organizationalEntity'),
              totalShareStatistics: { impressionCount: post.impressions, likeCount: post.likes, commentCount: post.replies, shareCount: post.reposts, clickCount: post.clicks, uniqueImpressionsCount: post.impressions - 1, engagement: 0.05 },
            },
          ],
        },
      };
    }
    const insights = /^\/v[\d.]+\/([^/]+)\/insights$/.exec(url.pathname);
    if (request.method === 'GET' && insights !== null) {
      const post = posts.get(decodeURIComponent(insights[1] as string));
      if (post === undefined || post.deleted === true) {
        return { status: 400, body: { error: { message: 'Unsupported get request. Object with ID does not exist', type: 'GraphMethodException', code: 100, error_subcode: 33 } } };
      }
      const value = { impressions: post.impressions, likes: post.likes, comments: post.replies, shares: post.reposts, saved: post.saves } as Record<string, number>;
      const metrics = (url.searchParams.get('metric') ?? '').split(',');
      return { status: 200, body: { data: metrics.map((name) => ({ name, period: 'lifetime', values: [{ value: value[name] ?? 0 }], title: name, id: `${insights[1]}/insights/${name}/lifetime` })) } };
    }
    return { status: 404, body: { error: 'not found' } };
  };
}

/** A 429 with Retry-After, as every platform answers a rate limit. */
export const rateLimited =
  (retryAfterSeconds: number): Responder =>
  () => ({ status: 429, headers: { 'retry-after': String(retryAfterSeconds) }, body: { title: 'Too Many Requests', status: 429 } });
