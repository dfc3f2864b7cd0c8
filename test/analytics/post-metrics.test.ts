import { expect } from 'chai';
import { Job } from 'bullmq';
import type { AppContext } from '../../src/runtime/context.js';
import { startWorkers, type RunningWorkers } from '../../src/runtime/worker-runtime.js';
import { postMetricsForCampaign } from '../../src/analytics/post-metrics-report.js';
import { xClient } from '../../src/channels/x/x-client.js';
import { linkedinClient } from '../../src/channels/linkedin/linkedin-client.js';
import { instagramClient } from '../../src/channels/instagram/instagram-client.js';
import { RateLimitedError } from '../../src/channels/adapter.js';
import { postMetricsQueue } from '../../queues/post-metrics.js';
import { resetDatabase, resetQueueStore } from '../setup/hooks.js';
import { engineContext, eventually, runDrumbeat, seedCampaign } from '../support/engine.js';
import { clockNow, type AnchoredClock } from '../support/clock.js';
import { engagementApi, rateLimited, startPlatformServer, type FakePost, type PlatformServer } from '../channels/platform-harness.js';

const token = 'tok-3f9a-very-secret-bearer';
const figures = (base: number): FakePost => ({ impressions: base * 100, likes: base * 10, reposts: base + 2, replies: base, clicks: base * 3, saves: base + 1 });

describe('post metrics from the platforms', function () {
  this.timeout(60_000);

  describe('the clients', () => {
    let server: PlatformServer;
    afterEach(() => server.close());

    it('X reads up to 100 tweets in one GET /2/tweets with public_metrics; a tweet not found is deleted', async () => {
      server = await startPlatformServer(engagementApi(new Map([['1850000000000000001', figures(2)], ['1850000000000000002', { deleted: true }]])));
      const client = xClient({ baseUrl: server.url, bearerToken: token, timeoutMs: 2000 });
      const readings = await client.readPostMetrics(['1850000000000000001', '1850000000000000002']);
      expect(server.requests.map((request) => [request.method, request.path])).to.deep.equal([['GET', '/2/tweets?ids=1850000000000000001%2C1850000000000000002&tweet.fields=public_metrics']]);
      expect(server.requests[0]?.headers.authorization).to.equal(`Bearer ${token}`);
      expect(client.postMetricsBatch).to.equal(100);
      expect(Object.fromEntries(readings)).to.deep.equal({
        '1850000000000000001': { status: 'OK', engagement: { impressions: 200, likes: 20, reposts: 4, replies: 2, clicks: null, saves: 3 } },
        '1850000000000000002': { status: 'DELETED' },
      });
    });

    it('LinkedIn reads social actions, and an organization’s share statistics; a 404 is a deleted post; a person’s posts have no impressions', async () => {
      server = await startPlatformServer(engagementApi(new Map([['urn:li:share:7000', figures(3)], ['urn:li:share:7001', { deleted: true }]])));
      const organization = linkedinClient({ baseUrl: server.url, accessToken: token, authorUrn: 'urn:li:organization:5515715', version: '202501', timeoutMs: 2000 });
      const readings = await organization.readPostMetrics(['urn:li:share:7000', 'urn:li:share:7001']);
      expect(server.requests.map((request) => request.path)).to.deep.equal([
        '/rest/socialActions/urn%3Ali%3Ashare%3A7000',
        '/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=urn%3Ali%3Aorganization%3A5515715&shares=List(urn%3Ali%3Ashare%3A7000)',
        '/rest/socialActions/urn%3Ali%3Ashare%3A7001',
      ]);
      expect(server.requests[0]?.headers).to.include({ 'linkedin-version': '202501', 'x-restli-protocol-version': '2.0.0' });
      expect(Object.fromEntries(readings)).to.deep.equal({
        'urn:li:share:7000': { status: 'OK', engagement: { impressions: 300, likes: 30, reposts: 5, replies: 3, clicks: 9, saves: null } },
        'urn:li:share:7001': { status: 'DELETED' },
      });
      const person = linkedinClient({ baseUrl: server.url, accessToken: token, authorUrn: 'urn:li:person:abc', version: '202501', timeoutMs: 2000 });
      expect((await person.readPostMetrics(['urn:li:share:7000'])).get('urn:li:share:7000')).to.deep.equal({
        status: 'OK',
        engagement: { impressions: null, likes: 30, reposts: null, replies: 3, clicks: null, saves: null },
      });
    });

    it('Instagram reads /{media-id}/insights; “object does not exist” is a deleted post; a 429 is a rate limit with its wait', async () => {
      server = await startPlatformServer(engagementApi(new Map([['17900000000000001', figures(4)]])));
      const client = instagramClient({ baseUrl: server.url, accessToken: token, accountId: 'me', version: 'v21.0', timeoutMs: 2000 });
      const readings = await client.readPostMetrics(['17900000000000001', '17900000000000009']);
      expect(server.requests.map((request) => request.path)).to.deep.equal([
        '/v21.0/17900000000000001/insights?metric=impressions,likes,comments,shares,saved',
        '/v21.0/17900000000000009/insights?metric=impressions,likes,comments,shares,saved',
      ]);
      expect(Object.fromEntries(readings)).to.deep.equal({
        '17900000000000001': { status: 'OK', engagement: { impressions: 400, likes: 40, reposts: 6, replies: 4, clicks: null, saves: 5 } },
        '17900000000000009': { status: 'DELETED' },
      });
      server.answer(rateLimited(42));
      const limited = await client.readPostMetrics(['17900000000000001']).catch((error: unknown) => error);
      expect(limited).to.be.instanceOf(RateLimitedError);
      expect((limited as RateLimitedError).retryAfterMs).to.equal(42_000);
    });
  });

  describe('the post-metrics job', () => {
    let ctx: AppContext;
    let x: PlatformServer;
    let linkedin: PlatformServer;
    let instagram: PlatformServer;
    let workers: RunningWorkers | undefined;
    let env: Record<string, string>;
    let clock: AnchoredClock;

    beforeEach(async () => {
      await resetDatabase();
      await resetQueueStore();
      x = await startPlatformServer(engagementApi(new Map()));
      linkedin = await startPlatformServer(engagementApi(new Map()));
      instagram = await startPlatformServer(engagementApi(new Map()));
      env = {
        X_API_BASE_URL: x.url,
        X_BEARER_TOKEN: token,
        LINKEDIN_API_BASE_URL: linkedin.url,
        LINKEDIN_ACCESS_TOKEN: token,
        LINKEDIN_AUTHOR_URN: 'urn:li:organization:5515715',
        INSTAGRAM_API_BASE_URL: instagram.url,
        INSTAGRAM_ACCESS_TOKEN: token,
      };
      clock = clockNow();
      ctx = engineContext({ clock, env });
    });

    afterEach(async () => {
      await workers?.close();
      workers = undefined;
      await ctx.close();
      await Promise.all([x.close(), linkedin.close(), instagram.close()]);
    });

    /** A LIVE campaign whose posts were published with these platform ids. */
    async function publishedCampaign(published: Array<{ platform: 'x' | 'linkedin' | 'instagram'; externalId: string }>): Promise<{ campaignId: number; postIds: number[] }> {
      const at = ctx.clock.now().toISOString();
      const { campaignId } = await seedCampaign(ctx, {
        spec: {
          mode: 'LIVE',
          posts: published.map((post) => ({ platform: post.platform, text: `Launch on ${post.platform}`, at, ...(post.platform === 'instagram' ? { mediaUrl: 'https://cdn.example/a.png' } : {}) })),
        },
      });
      const postIds: number[] = [];
      for (const [index, post] of published.entries()) {
        const [row] = (await ctx.db('campaign_posts')
          .where({ campaign_id: campaignId, post_index: index })
          .update({ status: 'PUBLISHED', external_id: post.externalId, published_at: ctx.clock.now() })
          .returning('id')) as Array<{ id: number }>;
        postIds.push(row!.id);
      }
      return { campaignId, postIds };
    }

    it('stores each published post’s figures per day; a 429 leaves that platform’s posts for a later job while the others are read; a deleted post is recorded once and not asked again', async () => {
      const { campaignId, postIds } = await publishedCampaign([
        { platform: 'x', externalId: '1850000000000000001' },
        { platform: 'x', externalId: '1850000000000000002' },
        { platform: 'linkedin', externalId: 'urn:li:share:7000' },
        { platform: 'instagram', externalId: '17900000000000001' },
        { platform: 'instagram', externalId: '17900000000000002' },
      ]);
      x.answer(engagementApi(new Map([['1850000000000000001', figures(1)], ['1850000000000000002', { deleted: true }]])));
      linkedin.answer(engagementApi(new Map([['urn:li:share:7000', figures(2)]])));
      const instagramPosts = new Map([['17900000000000001', figures(3)], ['17900000000000002', figures(5)]]);
      // Instagram answers the first post, then rate-limits the second.
      instagram.answer(engagementApi(instagramPosts), rateLimited(30), engagementApi(instagramPosts));

      const run = await runDrumbeat(['metrics', 'fetch', '--campaign', String(campaignId)], env);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout.trim().split('\n')).to.deep.equal([
        'linkedin: 1 published post(s): 1 read',
        'x: 2 published post(s): 1 read, 1 deleted on the platform',
        'instagram: 2 published post(s): 1 read, 1 left (rate limited: instagram answered HTTP 429: {"title":"Too Many Requests","status":429}), read again in 30 s',
      ]);
      const day = clock.day();
      const rows = async () =>
        (await ctx.db('post_metrics').orderBy('post_id').select('post_id', 'platform', 'day', 'status', 'impressions', 'likes', 'reposts', 'replies', 'clicks', 'saves')) as Array<Record<string, unknown>>;
      expect(await rows()).to.deep.equal([
        { post_id: postIds[0], platform: 'x', day, status: 'OK', impressions: 100, likes: 10, reposts: 3, replies: 1, clicks: null, saves: 2 },
        { post_id: postIds[1], platform: 'x', day, status: 'DELETED', impressions: null, likes: null, reposts: null, replies: null, clicks: null, saves: null },
        { post_id: postIds[2], platform: 'linkedin', day, status: 'OK', impressions: 200, likes: 20, reposts: 4, replies: 2, clicks: 6, saves: null },
        { post_id: postIds[3], platform: 'instagram', day, status: 'OK', impressions: 300, likes: 30, reposts: 5, replies: 3, clicks: null, saves: 4 },
      ]);

      // The follow-up for Instagram waits in the queue; a real worker runs it (promoted here) and reads only what was left.
      const [retry] = await ctx.queues.get(postMetricsQueue).getJobs(['delayed']);
      expect(retry?.data).to.deep.equal({ campaignId, platforms: ['instagram'], missingOnly: true, retry: 1 });
      const instagramRequests = instagram.requests.length;
      const xRequests = x.requests.length;
      workers = await startWorkers(ctx, undefined, { schedule: false });
      await retry!.promote();
      await eventually(async () => (await Job.fromId(ctx.queues.get(postMetricsQueue), retry!.id!))?.finishedOn !== undefined, 'the follow-up job done');
      expect(instagram.requests.slice(instagramRequests).map((request) => request.path)).to.deep.equal(['/v21.0/17900000000000002/insights?metric=impressions,likes,comments,shares,saved']);
      expect(x.requests.length, 'no other platform is asked again').to.equal(xRequests);
      expect((await rows()).map((row) => [row.post_id, row.status, row.impressions])).to.deep.equal([
        [postIds[0], 'OK', 100],
        [postIds[1], 'DELETED', null],
        [postIds[2], 'OK', 200],
        [postIds[3], 'OK', 300],
        [postIds[4], 'OK', 500],
      ]);

      // A later read the same day replaces the figures and never asks about the deleted tweet again.
      x.answer(engagementApi(new Map([['1850000000000000001', figures(7)]])));
      const again = await ctx.postMetrics.fetch({ campaignId, platforms: ['x'], missingOnly: false, retry: 0 });
      expect(again.platforms).to.deep.equal([{ platform: 'x', posts: 1, read: 1, deleted: 0, left: 0 }]);
      expect(x.requests.at(-1)?.path).to.equal('/2/tweets?ids=1850000000000000001&tweet.fields=public_metrics');
      expect((await rows())[0]).to.include({ impressions: 700, likes: 70 });

      const report = await postMetricsForCampaign(ctx.db, campaignId);
      expect(report.posts.map((post) => [post.postIndex, post.platform, post.status, post.impressions])).to.deep.equal([
        [0, 'x', 'OK', 700],
        [1, 'x', 'DELETED', null],
        [2, 'linkedin', 'OK', 200],
        [3, 'instagram', 'OK', 300],
        [4, 'instagram', 'OK', 500],
      ]);
      expect(report.byChannelDay).to.deep.equal([
        { channel: 'instagram', day, posts: 2, impressions: 800, likes: 80, reposts: 12, replies: 8, clicks: null, saves: 10 },
        { channel: 'linkedin', day, posts: 1, impressions: 200, likes: 20, reposts: 4, replies: 2, clicks: 6, saves: null },
        { channel: 'x', day, posts: 1, impressions: 700, likes: 70, reposts: 9, replies: 7, clicks: null, saves: 8 },
      ]);
    });
  });
});
