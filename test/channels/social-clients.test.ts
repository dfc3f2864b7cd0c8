import { expect } from 'chai';
import { xClient } from '../../src/channels/x/x-client.js';
import { linkedinClient } from '../../src/channels/linkedin/linkedin-client.js';
import { instagramClient } from '../../src/channels/instagram/instagram-client.js';
import { AmbiguousSendError, PermanentSendError, RateLimitedError, TransientSendError } from '../../src/channels/adapter.js';
import { startPlatformServer, type PlatformServer } from './platform-harness.js';

const token = 'tok-3f9a-very-secret-bearer';
const signal = () => new AbortController().signal;

describe('social platform clients against local servers', () => {
  let server: PlatformServer;
  afterEach(() => server.close());

  it('X: a DM is POST /2/dm_conversations/with/:id/messages and a post is POST /2/tweets, with the bearer token', async () => {
    server = await startPlatformServer((request) =>
      request.path.startsWith('/2/tweets')
        ? { status: 201, body: { data: { id: '1850000000000000001', text: 'x' } } }
        : { status: 201, body: { data: { dm_conversation_id: '123-456', dm_event_id: '1850000000000000002' } } },
    );
    const client = xClient({ baseUrl: server.url, bearerToken: token, timeoutMs: 2000 });
    const dm = await client.sendMessage('2244994945', 'Hello there', signal());
    const post = await client.publish({ key: 'p1-0', text: 'Launch day', mediaUrl: 'https://cdn.example/launch.png' }, signal());
    expect(dm).to.deep.include({ provider: 'x', externalId: '1850000000000000002' });
    expect(post).to.deep.include({ provider: 'x', externalId: '1850000000000000001' });
    expect(server.requests.map((request) => [request.method, request.path, request.body])).to.deep.equal([
      ['POST', '/2/dm_conversations/with/2244994945/messages', { text: 'Hello there' }],
      ['POST', '/2/tweets', { text: 'Launch day https://cdn.example/launch.png' }],
    ]);
    expect(server.requests[0]?.headers.authorization).to.equal(`Bearer ${token}`);
    expect(server.requests[0]?.headers['content-type']).to.equal('application/json');
  });

  it('LinkedIn: posts to /rest/posts as the author with version headers, reads the id from x-restli-id; messages go to /rest/messages', async () => {
    server = await startPlatformServer((request) => ({
      status: 201,
      headers: { 'x-restli-id': request.path === '/rest/posts' ? 'urn:li:share:7000' : 'urn:li:message:42' },
    }));
    const client = linkedinClient({ baseUrl: server.url, accessToken: token, authorUrn: 'urn:li:organization:5515715', version: '202501', timeoutMs: 2000 });
    const post = await client.publish({ key: 'p1-1', text: 'We are hiring', mediaUrl: 'https://example.com/jobs' }, signal());
    const message = await client.sendMessage('abc123', 'Hi Ada', signal());
    expect(post.externalId).to.equal('urn:li:share:7000');
    expect(message.externalId).to.equal('urn:li:message:42');
    const [postRequest, messageRequest] = server.requests;
    expect(postRequest?.headers).to.include({ authorization: `Bearer ${token}`, 'linkedin-version': '202501', 'x-restli-protocol-version': '2.0.0' });
    expect(postRequest?.body).to.deep.equal({
      author: 'urn:li:organization:5515715',
      commentary: 'We are hiring',
      visibility: 'PUBLIC',
      distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
      lifecycleState: 'PUBLISHED',
      isReshareDisabledByAuthor: false,
      content: { article: { source: 'https://example.com/jobs', title: 'We are hiring' } },
    });
    expect(messageRequest?.path).to.equal('/rest/messages');
    expect(messageRequest?.body).to.deep.equal({ recipients: ['urn:li:person:abc123'], body: 'Hi Ada', messageType: 'MEMBER_TO_MEMBER' });
  });

  it('Instagram: a post is a media container then media_publish; a DM is /messages; the token stays out of URLs', async () => {
    server = await startPlatformServer((request) => {
      if (request.path.endsWith('/media')) return { status: 200, body: { id: 'container-17' } };
      if (request.path.endsWith('/media_publish')) return { status: 200, body: { id: 'media-99' } };
      return { status: 200, body: { recipient_id: '778', message_id: 'mid.abc' } };
    });
    const client = instagramClient({ baseUrl: server.url, accessToken: token, accountId: '17841400000', version: 'v21.0', timeoutMs: 2000 });
    const post = await client.publish({ key: 'p1-2', text: 'Behind the scenes', mediaUrl: 'https://cdn.example/bts.jpg' }, signal());
    const dm = await client.sendMessage('778', 'Thanks for following', signal());
    expect(post.externalId).to.equal('media-99');
    expect(dm.externalId).to.equal('mid.abc');
    expect(server.requests.map((request) => [request.path, request.body])).to.deep.equal([
      ['/v21.0/17841400000/media', { image_url: 'https://cdn.example/bts.jpg', caption: 'Behind the scenes' }],
      ['/v21.0/17841400000/media_publish', { creation_id: 'container-17' }],
      ['/v21.0/17841400000/messages', { recipient: { id: '778' }, message: { text: 'Thanks for following' } }],
    ]);
    for (const request of server.requests) {
      expect(request.path).to.not.include(token);
      expect(request.headers.authorization).to.equal(`Bearer ${token}`);
    }
  });

  it('classifies answers: 401 permanent (token never in the error), 429 honours Retry-After, 5xx transient', async () => {
    server = await startPlatformServer(() => ({ status: 401, body: { title: 'Unauthorized', detail: 'Unauthorized' } }));
    const client = xClient({ baseUrl: server.url, bearerToken: token, timeoutMs: 2000 });
    const unauthorized = (await client.sendMessage('1', 'hi', signal()).catch((error: unknown) => error)) as Error;
    expect(unauthorized).to.be.instanceOf(PermanentSendError);
    expect(unauthorized.message).to.include('refused our credentials').and.not.include(token);

    server.answer(() => ({ status: 429, headers: { 'retry-after': '7' }, body: { title: 'Too Many Requests' } }));
    const limited = (await client.sendMessage('1', 'hi', signal()).catch((error: unknown) => error)) as Error;
    expect(limited).to.be.instanceOf(RateLimitedError);
    expect((limited as RateLimitedError).retryAfterMs).to.equal(7000);

    const resetAt = Math.floor(Date.now() / 1000) + 30;
    server.answer(() => ({ status: 429, headers: { 'x-rate-limit-reset': String(resetAt) } }));
    const reset = (await client.sendMessage('1', 'hi', signal()).catch((error: unknown) => error)) as RateLimitedError;
    expect(reset.retryAfterMs).to.be.within(28_000, 30_000);

    server.answer(() => ({ status: 503, body: { title: 'Service Unavailable' } }));
    await expect(client.sendMessage('1', 'hi', signal())).to.be.rejectedWith(TransientSendError, 'HTTP 503');
  });

  it('a timeout after the request was sent is ambiguous; a refused connection is transient', async () => {
    server = await startPlatformServer(() => 'hang');
    const client = xClient({ baseUrl: server.url, bearerToken: token, timeoutMs: 200 });
    await expect(client.publish({ key: 'p1-3', text: 'hello', mediaUrl: null }, signal())).to.be.rejectedWith(AmbiguousSendError, 'after the request was sent');
    const closed = xClient({ baseUrl: 'http://127.0.0.1:1', bearerToken: token, timeoutMs: 200 });
    await expect(closed.publish({ key: 'p1-3', text: 'hello', mediaUrl: null }, signal())).to.be.rejectedWith(TransientSendError, 'before the request was sent');
  });

  it('Instagram: an unanswered container creation is transient (nothing published); an unanswered publish is ambiguous', async () => {
    server = await startPlatformServer(() => 'hang');
    const client = instagramClient({ baseUrl: server.url, accessToken: token, accountId: 'me', version: 'v21.0', timeoutMs: 200 });
    await expect(client.publish({ key: 'p', text: 't', mediaUrl: 'https://cdn.example/a.jpg' }, signal())).to.be.rejectedWith(TransientSendError);
    server.answer(() => ({ status: 200, body: { id: 'container-1' } }), () => 'hang');
    await expect(client.publish({ key: 'p', text: 't', mediaUrl: 'https://cdn.example/a.jpg' }, signal())).to.be.rejectedWith(AmbiguousSendError);
    server.answer(() => ({ status: 400, body: { error: { code: 4, message: 'Application request limit reached' } } }));
    await expect(client.sendMessage('1', 'hi', signal())).to.be.rejectedWith(RateLimitedError);
  });
});
