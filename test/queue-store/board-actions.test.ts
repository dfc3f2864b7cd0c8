import { expect } from 'chai';
import type { AppContext } from '../../src/runtime/context.js';
import { TransientSendError } from '../../src/channels/adapter.js';
import { buildHttpApp } from '../../src/runtime/processes.js';
import { startWorkers } from '../../src/runtime/worker-runtime.js';
import { migrateQueueSchema } from '../../src/jobs/queue-schema.js';
import { addOperator } from '../../src/operators/operator-service.js';
import { createApiToken } from '../../src/operators/api-token-service.js';
import { redisKeys } from '../../src/redis/keys.js';
import { resetDatabase, resetQueueStore, testRun } from '../setup/hooks.js';
import { engineContext, eventually, seedCampaign, statusCounts } from '../support/engine.js';
import { startRedisCluster, type PrivateRedisCluster } from '../support/redis-topology.js';
import { brokenRelay, realPeople as people } from '../support/broken-relay.js';
import { serveApp, signIn, type RunningApp, type SignedIn } from '../http/http-harness.js';

/**
 * What an operator does with dead letters in Bull Board (list, retry one, retry all, remove one,
 * pause and resume a queue), through the api process's own HTTP app and the board's API as its
 * page calls it, with workers running, on each queue store that is not a single Redis server
 * (test/security/bull-board.test.ts covers that one).
 */

const password = 'correct horse battery staple';
const relayRefusal = '451 4.3.0 relay temporarily unavailable';
/** Two attempts, 50 ms apart; no breaker opens on the failures (5 would open the default one). */
const sendSettings = { SEND_ATTEMPTS: '2', BREAKER_VOLUME: '100' };

/** An email relay that fails every message (a transient fault) until it is fixed. */
const failingRelay = () => brokenRelay(() => new TransientSendError(relayRefusal));

/** Where the queues live for one suite: its environment, and how to empty and remove it. */
interface QueueTopology {
  title: string;
  setUp(): Promise<Record<string, string>>;
  reset(): Promise<void>;
  tearDown(): Promise<void>;
}

const postgresStore: QueueTopology = {
  title: 'QUEUE_BACKEND=postgres',
  async setUp() {
    // This file runs in the default (Redis) run too: its queue schema is its own to migrate.
    await migrateQueueSchema(testRun.databaseUrl);
    return { QUEUE_BACKEND: 'postgres' };
  },
  reset: () => resetQueueStore('postgres'),
  tearDown: () => Promise.resolve(),
};

function redisCluster(): QueueTopology {
  let cluster: PrivateRedisCluster | undefined;
  /** The run's prefix with a hash tag: every key of the run in one slot. */
  const prefix = `{${testRun.queuePrefix}}`;
  return {
    title: 'a private three-node Redis Cluster',
    async setUp() {
      cluster = await startRedisCluster();
      // REDIS_URL '' unsets the run's single-node URL: only one topology may be given.
      return { QUEUE_BACKEND: 'redis', REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.nodes, QUEUE_PREFIX: prefix };
    },
    reset: () => cluster?.deleteKeys(redisKeys.everyKey(prefix)) ?? Promise.resolve(),
    tearDown: () => cluster?.stop() ?? Promise.resolve(),
  };
}

/** A job as the board's API lists it. */
interface BoardJob {
  id: string;
  failedReason?: string;
  attempts: number;
  data: unknown;
}

/** A queue as the board's API lists it. */
interface BoardQueue {
  name: string;
  isPaused: boolean;
  /** Whether anything consumes the queue; `false` shows "Nothing is consuming this queue". */
  hasWorkers: boolean | null;
  counts: Record<string, number>;
  jobs: BoardJob[];
}

for (const topology of [postgresStore, redisCluster()]) {
  describe(`Bull Board on ${topology.title}: an operator's dead-letter actions`, function () {
    this.timeout(30_000);
    let env: Record<string, string>;
    let relay: ReturnType<typeof failingRelay>;
    /** The api process's context (HTTP connection role) and the worker process's. */
    let api: AppContext;
    let worker: AppContext;
    let app: RunningApp;
    /** How to close what the running test opened, in the order it was opened. */
    const opened: Array<() => Promise<void>> = [];
    const sessions = {} as Record<'admin' | 'operator', SignedIn>;

    before(async () => {
      env = await topology.setUp();
    });

    after(async () => {
      await topology.tearDown();
    });

    beforeEach(async () => {
      await resetDatabase();
      await topology.reset();
      relay = failingRelay();
      worker = engineContext({ env: { ...env, ...sendSettings }, liveAdapters: { email: relay.adapter } });
      opened.push(() => worker.close());
      api = engineContext({ env, redisRole: 'http' });
      opened.push(() => api.close());
      await eventually(() => api.queues.available(), 'the api to reach its queue store');
      app = await serveApp(buildHttpApp(api));
      opened.push(() => app.close());
      for (const role of ['admin', 'operator'] as const) {
        await addOperator(api.db, `${role}@example.com`, password, { role });
        sessions[role] = await signIn(app, `${role}@example.com`, password);
      }
      const workers = await startWorkers(worker, undefined, { schedule: false });
      opened.push(() => workers.close());
    });

    // Last opened, first closed; after a failed beforeEach, whatever it got to open.
    afterEach(async () => {
      for (const close of opened.splice(0).reverse()) await close();
    });

    /** One call of the board's API, as its page makes it: the session cookie and the CSRF header. */
    async function board(role: 'admin' | 'operator', method: string, path: string): Promise<Response> {
      return fetch(app.url(`/admin/queues/api${path}`), {
        method,
        headers: { cookie: sessions[role].cookie, 'x-csrf-token': sessions[role].csrfToken, 'content-type': 'application/json' },
      });
    }

    /** The board's page of one queue in one status, as it shows it. */
    async function listed(queueName: string, status: string): Promise<BoardQueue> {
      const response = await board('operator', 'GET', `/queues?activeQueue=${queueName}&status=${status}&page=1&jobsPerPage=50`);
      expect(response.status).to.equal(200);
      const { queues } = (await response.json()) as { queues: BoardQueue[] };
      const queue = queues.find((entry) => entry.name === queueName);
      if (queue === undefined) throw new Error(`the board lists no queue ${queueName}`);
      return queue;
    }

    async function messageStatus(id: number): Promise<string> {
      return ((await worker.db('messages').where({ id }).first('status')) as { status: string }).status;
    }

    /** A LIVE campaign whose every email exhausted its attempts at the broken relay (DEAD); the campaign stays ACTIVE. */
    async function allDead(): Promise<{ campaignId: number; messages: Array<{ id: number; key: string; email: string }> }> {
      const { campaignId } = await seedCampaign(worker, { leads: people, spec: { mode: 'LIVE' } });
      await worker.ticks.runTick(campaignId, worker.clock.now());
      await eventually(async () => (await statusCounts(worker, campaignId)).DEAD === 3, 'every message DEAD');
      const rows = (await worker
        .db('messages as m')
        .join('leads as l', 'l.id', 'm.lead_id')
        .where('m.campaign_id', campaignId)
        .orderBy('m.id')
        .select('m.id', 'm.idempotency_key as key', 'l.email')) as Array<{ id: number; key: string; email: string }>;
      return { campaignId, messages: rows };
    }

    it('lists dead letters with their reason; retry sends one, remove drops its job and keeps it DEAD, retry all is refused by the gate', async () => {
      const { campaignId, messages } = await allDead();
      const [first, second, third] = messages as [(typeof messages)[0], (typeof messages)[0], (typeof messages)[0]];
      const failed = await listed('send-email', 'failed');
      expect(failed.hasWorkers, 'the worker process consumes the queue').to.equal(true);
      const workers = await board('operator', 'GET', '/queues/send-email/workers');
      expect(((await workers.json()) as { workers: unknown[] }).workers, 'the board lists it').to.not.deep.equal([]);
      expect(failed.counts.failed).to.equal(3);
      expect(failed.jobs.map((job) => [job.id, job.failedReason, job.attempts, job.data]).sort()).to.deep.equal(
        messages.map((message) => [message.key, relayRefusal, 2, { messageId: message.id }]).sort(),
      );
      relay.fix();

      const retried = await board('operator', 'PUT', `/queues/send-email/${first.key}/retry`);
      expect(retried.status).to.equal(204);
      await eventually(async () => (await messageStatus(first.id)) === 'SENT', 'the retried dead letter sent');
      expect(relay.calls.slice(6).map((call) => call.recipient)).to.deep.equal([first.email]);
      const job = await board('operator', 'GET', `/queues/send-email/${first.key}`);
      expect(((await job.json()) as { status: string }).status).to.equal('completed');

      const removed = await board('admin', 'PUT', `/queues/send-email/${second.key}/clean`);
      expect(removed.status).to.equal(204);
      expect((await board('operator', 'GET', `/queues/send-email/${second.key}`)).status, 'the job is gone').to.equal(404);
      expect(await messageStatus(second.id), 'the record stays').to.equal('DEAD');

      // Nothing left to do: the campaign completes, and a retry of its last dead letter is refused.
      await worker.ticks.runTick(campaignId, new Date(worker.clock.now().getTime() + 1000));
      expect((await worker.campaigns.require(campaignId)).status).to.equal('COMPLETED');
      const all = await board('operator', 'PUT', '/queues/send-email/retry/failed');
      expect(all.status).to.equal(200);
      expect(await all.json()).to.deep.equal({ retried: 1, skipped: 0 });
      const refusal = `not sent: campaign ${campaignId} is COMPLETED; run "drumbeat messages retry ${third.id}" to reopen it`;
      const again = await eventually(async () => {
        const queue = await listed('send-email', 'failed');
        return queue.jobs.some((entry) => entry.failedReason === refusal) && queue;
      }, 'the board to list the refused retry');
      expect(again.jobs.map((entry) => [entry.id, entry.failedReason])).to.deep.equal([[third.key, refusal]]);
      expect(await messageStatus(third.id)).to.equal('DEAD');
      expect(relay.calls, 'no adapter call for the refused retry').to.have.length(7);
    });

    it('a queue paused from the board holds a retried dead letter, stays paused through the kill switch, and sends once resumed', async () => {
      const { messages } = await allDead();
      const [first] = messages as [(typeof messages)[0]];
      relay.fix();
      expect((await board('operator', 'PUT', '/queues/send-email/pause')).status).to.equal(200);
      expect((await listed('send-email', 'latest')).isPaused).to.equal(true);
      expect((await board('operator', 'PUT', `/queues/send-email/${first.key}/retry`)).status).to.equal(204);

      const { token } = await createApiToken(api.db, 'ops laptop', 'operator@example.com', api.clock);
      const kill = (on: boolean) =>
        fetch(app.url('/api/kill-switch'), { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ on }) });
      for (const on of [true, false]) {
        const flipped = await kill(on);
        expect(flipped.status).to.equal(200);
        expect(((await flipped.json()) as { queuesUpdated: boolean }).queuesUpdated).to.equal(true);
      }
      const [email, linkedin] = await Promise.all([listed('send-email', 'latest'), listed('send-linkedin', 'latest')]);
      expect(email.isPaused, 'paused by hand: the kill switch leaves it paused').to.equal(true);
      expect(linkedin.isPaused, 'paused by the kill switch: resumed by it').to.equal(false);
      const held = await board('operator', 'GET', `/queues/send-email/${first.key}`);
      expect(((await held.json()) as { status: string }).status).to.be.oneOf(['waiting', 'paused']);
      expect(await messageStatus(first.id)).to.equal('DEAD');
      expect(relay.calls, 'nothing sent while paused').to.have.length(6);

      expect((await board('operator', 'PUT', '/queues/send-email/resume')).status).to.equal(200);
      expect((await listed('send-email', 'latest')).isPaused).to.equal(false);
      await eventually(async () => (await messageStatus(first.id)) === 'SENT', 'the held dead letter sent once resumed');
      expect(relay.calls.slice(6).map((call) => call.recipient)).to.deep.equal([first.email]);
    });
  });
}
