import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { eventually } from './engine.js';

/** A free TCP port on loopback, as the kernel hands one out. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Whether a Redis server answers PING at `url`, or on 127.0.0.1 with the given options (port, password, TLS). */
export async function answersPing(target: string | RedisOptions): Promise<boolean> {
  const probeOptions: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 };
  const probe = typeof target === 'string' ? new Redis(target, probeOptions) : new Redis({ host: '127.0.0.1', ...target, ...probeOptions });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * A Redis server of the test's own, on a free port, keeping nothing on disk: tests that stop or
 * restart Redis do it to this one, never to the machine's shared server.
 */
export async function startPrivateRedis() {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;

  async function start(): Promise<void> {
    const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
      stdio: 'ignore',
    });
    server = child;
    await eventually(async () => (child.exitCode === null ? answersPing(url) : Promise.reject(new Error(`redis-server exited with ${child.exitCode}`))), `redis-server on port ${port}`, 10_000);
  }

  async function stop(): Promise<void> {
    const child = server;
    server = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  await start();
  return {
    port,
    url,
    /** Kills the server (nothing is saved) and waits until it no longer answers. */
    stop,
    /** Starts it again, empty, on the same port. */
    start,
  };
}

export type PrivateRedis = Awaited<ReturnType<typeof startPrivateRedis>>;
