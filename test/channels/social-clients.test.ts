import { expect } from 'chai';
import { xClient } from '../../src/channels/x/x-client.js';
import { linkedinClient } from '../../src/channels/linkedin/linkedin-client.js';
import { instagramClient } from '../../src/channels/instagram/instagram-client.js';
import { AmbiguousSendError, RateLimitedError, SenderFaultError, TransientSendError } from '../../src/channels/adapter.js';
import { classifyDeliveryFailure, type DeliveryFailure } from '../../src/channels/delivery-failure.js';
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

  it('classifies answers: 401 is the sender’s (token never in the error), 429 honours Retry-After, 5xx transient', async () => {
    server = await startPlatformServer(() => ({ status: 401, body: { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' } }));
    const client = xClient({ baseUrl: server.url, bearerToken: token, timeoutMs: 2000 });
    const unauthorized = (await client.sendMessage('1', 'hi', signal()).catch((error: unknown) => error)) as Error;
    expect(unauthorized).to.be.instanceOf(SenderFaultError);
    expect(unauthorized.message).to.include('refused our credentials').and.include('HTTP 401').and.not.include(token);

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

  describe('whose problem a refusal is, from each platform’s documented error shape', () => {
    const outcomeOf = (promise: Promise<unknown>): Promise<DeliveryFailure> => promise.then(
      () => expect.fail('the call should have failed'),
      (error: unknown) => classifyDeliveryFailure(error),
    );

    it('X (problem documents): a DM refused for this user or to a missing participant is the recipient’s; app/token problems are ours; a refused tweet is the post’s', async () => {
      server = await startPlatformServer(() => ({ status: 500 }));
      const client = xClient({ baseUrl: server.url, bearerToken: token, timeoutMs: 2000 });
      const cases: Array<[number, unknown, 'dm' | 'tweet', DeliveryFailure['kind']]> = [
        [403, { title: 'Forbidden', type: 'about:blank', status: 403, detail: 'You are not permitted to send Direct Messages to this user.' }, 'dm', 'recipient'],
        [400, { title: 'Invalid Request', type: 'https://api.x.com/2/problems/invalid-request', detail: 'One or more parameters to your request was invalid.', errors: [{ message: 'The `participant_id` query parameter value [42] does not match ^[0-9]{1,19}$', parameters: { participant_id: ['42'] } }] }, 'dm', 'recipient'],
        [404, { title: 'Not Found Error', type: 'https://api.x.com/2/problems/resource-not-found', detail: 'Could not find user with participant_id: [42].' }, 'dm', 'recipient'],
        [403, { title: 'Client Forbidden', type: 'https://api.x.com/2/problems/client-forbidden', reason: 'client-not-enrolled', detail: 'When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.' }, 'dm', 'sender'],
        [403, { title: 'Unsupported Authentication', type: 'https://api.x.com/2/problems/unsupported-authentication', detail: 'Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.' }, 'tweet', 'sender'],
        [403, { title: 'Forbidden', type: 'about:blank', status: 403, detail: 'You are not allowed to create a Tweet with duplicate content.' }, 'tweet', 'message'],
        [401, { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' }, 'tweet', 'sender'],
      ];
      for (const [status, body, call, kind] of cases) {
        server.answer(() => ({ status, body }));
        const failure = await outcomeOf(call === 'dm' ? client.sendMessage('42', 'hi', signal()) : client.publish({ key: 'p', text: 'hi', mediaUrl: null }, signal()));
        expect(failure.kind, `${status} ${JSON.stringify(body)}`).to.equal(kind);
        expect(failure.reason).to.include(`HTTP ${status}`).and.not.include(token);
      }
    });

    it('Instagram (Graph API error codes): 551, no matching user and a closed messaging window are the recipient’s; 190 and permission codes are ours', async () => {
      server = await startPlatformServer(() => ({ status: 500 }));
      const client = instagramClient({ baseUrl: server.url, accessToken: token, accountId: 'me', version: 'v21.0', timeoutMs: 2000 });
      const graph = (code: number, subcode: number | undefined, message: string) => ({ error: { message, type: 'OAuthException', code, ...(subcode === undefined ? {} : { error_subcode: subcode }), fbtrace_id: 'A1b2' } });
      const cases: Array<[number, unknown, DeliveryFailure['kind']]> = [
        [400, graph(551, 1545041, 'This person isn\'t available right now.'), 'recipient'],
        [400, graph(100, 2018001, 'No matching user found'), 'recipient'],
        [400, graph(10, 2018278, 'This message is sent outside of allowed window.'), 'recipient'],
        [401, graph(190, 463, 'Error validating access token: Session has expired'), 'sender'],
        [403, graph(200, undefined, 'Requires instagram_manage_messages permission to manage the object'), 'sender'],
        [400, graph(230, undefined, 'Requires pages_messaging permission to manage the object'), 'sender'],
        [400, graph(100, 33, 'Unsupported post request.'), 'message'],
      ];
      for (const [status, body, kind] of cases) {
        server.answer(() => ({ status, body }));
        expect((await outcomeOf(client.sendMessage('778', 'hi', signal()))).kind, JSON.stringify(body)).to.equal(kind);
      }
    });

    it('LinkedIn ({message, serviceErrorCode, status}): a missing or unconnected recipient is the recipient’s; 401 and permission refusals are ours', async () => {
      server = await startPlatformServer(() => ({ status: 500 }));
      const client = linkedinClient({ baseUrl: server.url, accessToken: token, authorUrn: 'urn:li:organization:1', version: '202501', timeoutMs: 2000 });
      const cases: Array<[number, unknown, DeliveryFailure['kind']]> = [
        [404, { message: 'Member urn:li:person:abc123 not found', serviceErrorCode: 0, status: 404 }, 'recipient'],
        [403, { message: 'The recipient is not a first-degree connection of the sender', serviceErrorCode: 100, status: 403 }, 'recipient'],
        [403, { message: 'Not enough permissions to access: messages.CREATE.20250101', serviceErrorCode: 100, status: 403 }, 'sender'],
        [401, { message: 'Invalid access token', serviceErrorCode: 65600, status: 401 }, 'sender'],
        [422, { message: 'Message body is too long', serviceErrorCode: 0, status: 422 }, 'message'],
      ];
      for (const [status, body, kind] of cases) {
        server.answer(() => ({ status, body }));
        expect((await outcomeOf(client.sendMessage('abc123', 'hi', signal()))).kind, JSON.stringify(body)).to.equal(kind);
      }
    });
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
