import { once } from 'node:events';
import { expect } from 'chai';
import { Queue, Worker } from 'bullmq';
import { appRoutes } from '@bull-board/api/dist/routes.js';
import { addOperator } from '../../src/operators/operator-service.js';
import { BOARD_ROUTE_ACCESS } from '../../src/http/bull-board-access.js';
import type { Role } from '../../src/operators/roles.js';
import { signIn, startApp, type RunningApp, type SignedIn } from '../http/http-harness.js';
import { resetDatabase, testConfig, testDb } from '../setup/hooks.js';
import { operatorPassword } from './security-support.js';

const queueName = 'board-access';

describe('security: Bull Board narrowed by role', function () {
  this.timeout(30_000);
  const config = testConfig();
  const connection = { url: config.REDIS_URL };
  let queue: Queue;
  let app: RunningApp;
  const sessions = {} as Record<Role, SignedIn>;

  before(async () => {
    queue = new Queue(queueName, { connection, prefix: config.QUEUE_PREFIX });
    app = await startApp({ config, boardQueues: [queue] });
  });

  after(async () => {
    await app.close();
    await queue.obliterate({ force: true });
    await queue.close();
  });

  beforeEach(async () => {
    await resetDatabase();
    await queue.obliterate({ force: true });
    for (const role of ['admin', 'operator', 'reviewer', 'viewer'] as const) {
      await addOperator(testDb(), `${role}@example.com`, operatorPassword, { role });
      sessions[role] = await signIn(app, `${role}@example.com`, operatorPassword);
    }
  });

  /** A job that failed for good, as a dead letter does. */
  async function deadLetter(): Promise<string> {
    const worker = new Worker(
      queueName,
      () => {
        throw new Error('provider refused');
      },
      { connection, prefix: config.QUEUE_PREFIX, autorun: false },
    );
    const failed = once(worker, 'failed');
    const job = await queue.add('send', { messageId: 42 }, { attempts: 1 });
    void worker.run();
    await failed;
    await worker.close();
    return job.id ?? '';
  }

  const board = (role: Role, method: string, path: string, body?: unknown) =>
    fetch(app.url(`/admin/queues${path}`), {
      method,
      headers: { cookie: sessions[role].cookie, 'x-csrf-token': sessions[role].csrfToken, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('refuses everyone, admins included, adding a job or editing job data', async () => {
    const jobId = await deadLetter();
    for (const role of ['admin', 'operator'] as const) {
      const added = await board(role, 'POST', `/api/queues/${queueName}/add`, { name: 'import-csv', data: { path: '/etc/passwd' } });
      expect(added.status).to.equal(403);
      expect(await added.json()).to.deep.equal({ error: 'nobody may add jobs from Bull Board; drumbeat creates its own jobs' });
      const edited = await board(role, 'PATCH', `/api/queues/${queueName}/${jobId}/update-data`, { jobData: { messageId: 1 } });
      expect(edited.status).to.equal(403);
      expect(await edited.json()).to.deep.equal({ error: 'nobody may edit job data from Bull Board; drumbeat re-reads its records' });
    }
    expect(await queue.count()).to.equal(0);
    expect((await queue.getJob(jobId))?.data).to.deep.equal({ messageId: 42 });
  });

  it('lets an operator retry dead letters and pause the queue, but not clean, empty, obliterate or remove jobs', async () => {
    const jobId = await deadLetter();
    for (const [method, path, action] of [
      ['PUT', `/api/queues/${queueName}/clean/failed`, 'clean queues'],
      ['PUT', `/api/queues/${queueName}/obliterate`, 'obliterate queues'],
      ['PUT', `/api/queues/${queueName}/empty`, 'empty queues'],
      ['PUT', `/api/queues/${queueName}/${jobId}/clean`, 'remove jobs'],
    ] as const) {
      const response = await board('operator', method, path);
      expect(response.status, path).to.equal(403);
      expect(await response.json()).to.deep.equal({ error: `your role (operator) may not ${action}; that needs admin` });
    }
    expect(await queue.getJobCounts('failed')).to.deep.equal({ failed: 1 });

    const paused = await board('operator', 'PUT', `/api/queues/${queueName}/pause`);
    expect(paused.status).to.equal(200);
    expect(await queue.isPaused()).to.equal(true);
    const retried = await board('operator', 'PUT', `/api/queues/${queueName}/retry/failed`);
    expect(retried.status).to.equal(200);
    expect(await queue.getJobCounts('failed')).to.deep.equal({ failed: 0 });
    expect(await (await queue.getJob(jobId))?.getState()).to.be.oneOf(['waiting', 'paused']);
    expect((await board('operator', 'PUT', `/api/queues/${queueName}/resume`)).status).to.equal(200);
    expect(await queue.isPaused()).to.equal(false);
  });

  it('lets an admin clean, remove jobs and obliterate', async () => {
    const jobId = await deadLetter();
    // The board's clean keeps jobs that finished in its last 5 seconds; the route itself is what is checked.
    expect((await board('admin', 'PUT', `/api/queues/${queueName}/clean/failed`)).status).to.equal(200);
    const removed = await board('admin', 'PUT', `/api/queues/${queueName}/${jobId}/clean`);
    expect(removed.status).to.equal(204);
    expect(await queue.getJob(jobId)).to.equal(undefined);
    await queue.add('send', { messageId: 7 });
    await queue.pause();
    expect((await board('admin', 'PUT', `/api/queues/${queueName}/obliterate`, { force: true })).status).to.equal(200);
    expect(await queue.count()).to.equal(0);
  });

  it('lets a viewer and a reviewer read the board and nothing else', async () => {
    const jobId = await deadLetter();
    for (const role of ['viewer', 'reviewer'] as const) {
      const queues = await board(role, 'GET', '/api/queues');
      expect(queues.status).to.equal(200);
      expect(((await queues.json()) as { queues: Array<{ name: string }> }).queues.map((entry) => entry.name)).to.deep.equal([queueName]);
      expect((await board(role, 'GET', `/api/queues/${queueName}/${jobId}`)).status).to.equal(200);
      expect((await board(role, 'GET', '/')).status, 'the page itself').to.equal(200);
      for (const [path, action] of [
        [`/api/queues/${queueName}/pause`, 'pause queues'],
        [`/api/queues/${queueName}/retry/failed`, 'retry jobs'],
        [`/api/queues/${queueName}/${jobId}/retry`, 'retry jobs'],
        [`/api/queues/${queueName}/promote`, 'promote jobs'],
        ['/api/queues/pause', 'pause queues'],
      ] as const) {
        const response = await board(role, 'PUT', path);
        expect(response.status, `${role} ${path}`).to.equal(403);
        expect(await response.json()).to.deep.equal({ error: `your role (${role}) may not ${action}; that needs admin or operator` });
      }
    }
    expect(await queue.isPaused()).to.equal(false);
    expect(await queue.getJobCounts('failed')).to.deep.equal({ failed: 1 });
  });

  it('matches a route as the board does: other cases, a trailing slash or an unknown action do not get past', async () => {
    await queue.add('send', { messageId: 7 });
    for (const path of [
      `/API/QUEUES/${queueName}/OBLITERATE`,
      `/api/queues/${queueName}/obliterate/`,
      `/Api/Queues/${queueName}/Clean/completed/`,
    ]) {
      const response = await board('operator', 'PUT', path);
      expect(response.status, path).to.equal(403);
    }
    expect((await board('operator', 'POST', `/API/queues/${queueName}/ADD/`, { name: 'x', data: {} })).status).to.equal(403);
    const unknown = await board('admin', 'DELETE', `/api/queues/${queueName}`);
    expect(unknown.status).to.equal(403);
    expect(await unknown.json()).to.deep.equal({ error: 'nobody may use this Bull Board action' });
    expect(await queue.count()).to.equal(1);
  });

  it('classifies every API route of the installed Bull Board', () => {
    const declared = appRoutes.api.flatMap((route) =>
      (Array.isArray(route.method) ? route.method : [route.method]).flatMap((method) =>
        (Array.isArray(route.route) ? route.route : [route.route]).map((path) => `${method.toUpperCase()} ${path}`),
      ),
    );
    expect(declared.filter((key) => BOARD_ROUTE_ACCESS[key] === undefined), 'routes without a rule').to.deep.equal([]);
  });
});
