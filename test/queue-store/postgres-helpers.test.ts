import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createLogger } from '../../src/log/logger.js';
import { migrateQueueSchema } from '../../src/jobs/queue-schema.js';
import { createQueueStore, type QueueStore } from '../../src/jobs/queue-store.js';
import { jobPresence } from '../../src/jobs/job-presence.js';
import { QueueRegistry } from '../../src/jobs/queue-registry.js';
import { sendEmailQueue } from '../../queues/send-email.js';
import { queueDirectory } from '../../queues/index.js';
import { postgresDomainThrottle } from '../../src/channels/email/domain-throttle.js';
import { postgresLlmBudget } from '../../src/llm/llm-budget.js';
import { postgresFormRateLimit } from '../../src/http/forms/form-rate-limit.js';
import { postgresBreakerStates } from '../../src/channels/resilience/breaker-states.js';
import { clockMinute } from '../../src/redis/keys.js';
import { resetDatabase, resetQueueStore, testConfig, testDb, testEnv, testRun } from '../setup/hooks.js';
import { clockNow } from '../support/clock.js';
import { eventually } from '../support/engine.js';
import { workersListenName } from '../../src/jobs/shared-listen.js';

describe('QUEUE_BACKEND=postgres: the helpers Redis held, in Postgres', function () {
  this.timeout(20_000);
  const clock = clockNow();
  const config = testConfig({ QUEUE_BACKEND: 'postgres' });

  before(() => migrateQueueSchema(testRun.databaseUrl));

  beforeEach(async () => {
    await resetDatabase();
    clock.reanchor(clockNow());
  });

  it('the domain throttle lets perMinute emails through per domain (any case), then delays to the next minute; concurrent takers never overrun it', async () => {
    const throttle = postgresDomainThrottle(testDb(), 5, clock);
    const taken = await Promise.all(Array.from({ length: 20 }, (_, index) => throttle.take(index % 2 === 0 ? 'Example.COM' : 'example.com')));
    expect(taken.filter((until) => until === undefined)).to.have.length(5);
    const nextMinute = new Date((clockMinute(clock.now()) + 1) * 60_000);
    expect(taken.filter((until) => until !== undefined).map((until) => until?.getTime())).to.deep.equal(Array(15).fill(nextMinute.getTime()));
    expect(await throttle.take('other.example'), 'another domain has its own window').to.equal(undefined);
    clock.advance(60_000);
    expect(await throttle.take('example.com'), 'a new minute, a new window').to.equal(undefined);
  });

  it('the LLM budget reserves a request and its tokens only within both limits, and settles to the real usage', async () => {
    const budget = postgresLlmBudget(testDb(), { rpm: 3, tpm: 100 }, clock);
    expect(await budget.reserve(101), 'more tokens than a minute holds').to.equal(undefined);
    const first = await budget.reserve(60);
    expect(first).to.not.equal(undefined);
    expect(await budget.reserve(50), 'over the token budget').to.equal(undefined);
    await budget.settle(first!, 20);
    expect(await budget.reserve(50), 'the settled tokens were given back').to.not.equal(undefined);
    expect(await budget.reserve(10)).to.not.equal(undefined);
    expect(await budget.reserve(1), 'a fourth request in the minute').to.equal(undefined);
    clock.advance(60_000);
    expect(await budget.reserve(100)).to.not.equal(undefined);
  });

  it('the form rate limit counts submissions per IP and minute', async () => {
    const limit = postgresFormRateLimit(testDb(), 2, clock);
    expect([await limit.overRate('192.0.2.7'), await limit.overRate('192.0.2.7'), await limit.overRate('192.0.2.7')]).to.deep.equal([false, false, true]);
    expect(await limit.overRate('2001:db8::1')).to.equal(false);
    clock.advance(60_000);
    expect(await limit.overRate('192.0.2.7')).to.equal(false);
  });

  it('breaker states: the last state a worker reported wins, read back by name', async () => {
    const states = postgresBreakerStates(testDb(), () => clock.now());
    await states.publish({ name: 'smtp:default', state: 'open', since: clock.now().toISOString(), retryAt: clock.now().toISOString() });
    await states.publish({ name: 'linkedin', state: 'closed', since: clock.now().toISOString() });
    await states.publish({ name: 'smtp:default', state: 'half-open', since: clock.now().toISOString() });
    expect((await states.read()).map((state) => [state.name, state.state])).to.deep.equal([
      ['linkedin', 'closed'],
      ['smtp:default', 'half-open'],
    ]);
  });

  describe('the queue store', () => {
    let store: QueueStore | undefined;
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    it('finds a job that is there and not one that was removed, through the Queue API', async () => {
      await resetQueueStore('postgres');
      store = createQueueStore(config, { role: 'worker', queues: 1 }, createLogger(config));
      const queues = new QueueRegistry(store, queueDirectory);
      await queues.addMany(sendEmailQueue, [
        { data: { messageId: 1 }, opts: { jobId: 'c1-l1-s0', delay: 60_000 } },
        { data: { messageId: 2 }, opts: { jobId: 'c1-l2-s0', delay: 60_000 } },
      ]);
      const queue = queues.get(sendEmailQueue);
      await queue.remove('c1-l2-s0');
      expect(await jobPresence(store).find([{ queue, jobId: 'c1-l1-s0' }, { queue, jobId: 'c1-l2-s0' }])).to.deep.equal(['live', 'missing']);
      await queues.close();
    });

    it('a worker renews its jobs’ locks again when Postgres picks the renewal as a deadlock’s victim', async () => {
      await resetQueueStore('postgres');
      const db = testDb();
      // The first lock renewal of an active job fails as a deadlock would (a sequence: not undone with it).
      await db.raw(`CREATE SEQUENCE bullmq.renewal_failures`);
      await db.raw(`CREATE FUNCTION bullmq.fail_first_renewal() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.state = 'active' AND NEW.state = 'active' AND NEW.locked_until_ms IS DISTINCT FROM OLD.locked_until_ms
             AND nextval('bullmq.renewal_failures') = 1 THEN
            RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
          END IF;
          RETURN NEW;
        END $$`);
      await db.raw(`CREATE TRIGGER fail_first_renewal BEFORE UPDATE ON bullmq.job FOR EACH ROW EXECUTE FUNCTION bullmq.fail_first_renewal()`);
      try {
        store = createQueueStore(config, { role: 'worker', queues: 1 }, createLogger(config));
        const queues = new QueueRegistry(store, queueDirectory);
        await queues.addMany(sendEmailQueue, [{ data: { messageId: 1 }, opts: { jobId: 'c1-l1-s0' } }]);
        const factory = store.openWorkers();
        const errors: string[] = [];
        let finish: () => void = () => undefined;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        // Holds its job over two renewals (one a second with a 2 s lock).
        const worker = factory.create(sendEmailQueue.name, () => new Promise((resolve) => setTimeout(resolve, 2500)), { concurrency: 1, lockDuration: 2000 });
        worker.on('error', (error: Error) => errors.push(error.message));
        worker.on('completed', () => finish());
        await finished;
        await worker.close();
        await factory.close();
        await queues.close();
        const [{ renewals }] = (await db.raw(`SELECT last_value AS renewals FROM bullmq.renewal_failures`)).rows as [{ renewals: string }];
        expect(Number(renewals), 'the renewal failed once, then ran again').to.be.at.least(2);
        expect(errors, 'no lock lost').to.deep.equal([]);
      } finally {
        await db.raw(`DROP TRIGGER fail_first_renewal ON bullmq.job`);
        await db.raw(`DROP FUNCTION bullmq.fail_first_renewal`);
        await db.raw(`DROP SEQUENCE bullmq.renewal_failures`);
      }
    });

    it('finds the workers of a process by the LISTEN connection they share, again once it was rebuilt, and none once they closed', async () => {
      await resetQueueStore('postgres');
      store = createQueueStore(config, { role: 'worker', queues: 2 }, createLogger(config));
      const queue = new QueueRegistry(store, queueDirectory).get(sendEmailQueue);
      const factory = store.openWorkers();
      const worker = factory.create(sendEmailQueue.name, () => Promise.resolve(), { concurrency: 1 });
      // The terminated connection is reported as the worker's error, as drumbeat's workers log it.
      worker.on('error', () => undefined);
      const listed = async () => (await queue.getWorkers()).map((client) => ({ id: client.id, rawname: client.rawname, addr: typeof client.addr }));
      const shared = { rawname: `${sendEmailQueue.name}:w:${workersListenName()}`, addr: 'string' };
      const [first] = await eventually(async () => (await listed()).length > 0 && listed(), 'the worker to LISTEN');
      expect(first).to.deep.include(shared);

      await testDb().raw('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?', [workersListenName()]);
      const [rebuilt] = await eventually(async () => {
        const now = await listed();
        return now.length > 0 && now[0]?.id !== first?.id && now;
      }, 'the rebuilt LISTEN connection');
      expect(rebuilt).to.deep.include(shared);

      await worker.close();
      await factory.close();
      // The connection is closed; its server process ends a moment later.
      await eventually(async () => (await listed()).length === 0, 'the closed LISTEN connection to leave pg_stat_activity');
      await queue.close();
    });

    it('a connection Postgres drops while checked out of the pool does not end the process', async () => {
      const probe = spawn(process.execPath, ['--import', 'tsx', 'test/support/dropped-connection.ts'], { env: testEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      probe.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      probe.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await once(probe, 'exit')) as [number | null];
      expect(code, output).to.equal(0);
      expect(output).to.equal('survived\n');
    });

    it('says it is unavailable when Postgres does not answer (the 503 guard), and available when it does', async () => {
      store = createQueueStore(testConfig({ QUEUE_BACKEND: 'postgres', DATABASE_URL: 'postgres://root@127.0.0.1:1/nowhere' }), { role: 'http', queues: 1 }, createLogger(config));
      expect(await store.available()).to.equal(false);
      await store.close();
      store = createQueueStore(config, { role: 'http', queues: 1 }, createLogger(config));
      expect(await store.available()).to.equal(true);
    });
  });
});
