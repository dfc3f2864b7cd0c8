import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { eventually } from './engine.js';
import { answersPing, freePort } from './private-redis.js';

const run = promisify(execFile);

/**
 * Private Redis topologies for the tests: a three-node Redis Cluster and a Sentinel-watched
 * primary/replica, each on free loopback ports with its files in its own temporary directory,
 * keeping nothing on disk. The machine's shared Redis (6379) is never touched.
 */

/** A private CA and a server certificate for 127.0.0.1 it signed (PEM files). */
export interface TestCertificates {
  ca: string;
  cert: string;
  key: string;
}

/**
 * Optional credentials: every server's (`--requirepass`), and a Sentinel's own (`requirepass` in
 * its conf); optional TLS: servers then listen with TLS only (the cluster bus too).
 */
export interface TopologyOptions {
  password?: string;
  sentinelPassword?: string;
  tls?: TestCertificates;
}

/** Makes a CA and a certificate for 127.0.0.1 with `openssl`, in `dir`. */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const ca = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  const request = join(dir, 'server.csr');
  const extensions = join(dir, 'server.ext');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '1', '-subj', '/CN=drumbeat test CA']);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', request, '-subj', '/CN=127.0.0.1']);
  await writeFile(extensions, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', ['x509', '-req', '-in', request, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', extensions]);
  return { ca, cert, key };
}

interface Server {
  port: number;
  child: ChildProcess;
}

function redisArgs(port: number, dir: string, options: TopologyOptions): string[] {
  const { tls } = options;
  return [
    '--bind', '127.0.0.1',
    ...(tls === undefined
      ? ['--port', String(port)]
      : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no', '--tls-cluster', 'yes', '--tls-replication', 'yes']),
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--maxmemory-policy', 'noeviction',
    // A replica syncs at once instead of after diskless sync's default 5 s wait for more replicas.
    '--repl-diskless-sync-delay', '0',
    ...(options.password === undefined ? [] : ['--requirepass', options.password, '--masterauth', options.password]),
  ];
}

/** How a test client reaches a server of the topology: its password and, with TLS, the private CA. */
interface ClientAccess {
  password?: string | undefined;
  tls?: TestCertificates | undefined;
}

function clientOptions(access: ClientAccess) {
  return {
    ...(access.password === undefined ? {} : { password: access.password }),
    ...(access.tls === undefined ? {} : { tls: { ca: readFileSync(access.tls.ca) } }),
  };
}

async function startServer(args: string[], port: number, access: ClientAccess): Promise<Server> {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  await eventually(
    async () => (child.exitCode === null ? answersPing({ port, ...clientOptions(access) }) : Promise.reject(new Error(`redis-server on port ${port} exited with ${child.exitCode}`))),
    `redis-server on port ${port}`,
    10_000,
  );
  return { port, child };
}

async function killServer(server: Server): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** A one-off client of one server of a topology, closed after `body`. */
async function withClient<T>(port: number, access: ClientAccess, body: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, ...clientOptions(access) });
  client.on('error', () => undefined);
  try {
    return await body(client);
  } finally {
    client.disconnect();
  }
}

/**
 * Starts three cluster-enabled `redis-server`s and joins them with `redis-cli --cluster create`
 * (no replicas: three primaries share the 16384 slots); resolves once every node reports the
 * cluster `ok`. `nodes` is the value of `REDIS_CLUSTER_NODES`.
 */
export async function startRedisCluster(options: TopologyOptions = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'drumbeat-cluster-'));
  const servers: Server[] = [];
  try {
    for (let index = 0; index < 3; index += 1) {
      const port = await freePort();
      const args = [...redisArgs(port, dir, options), '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)];
      servers.push(await startServer(args, port, options));
    }
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
    await run('redis-cli', [
      '--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes',
      ...(options.password === undefined ? [] : ['-a', options.password, '--no-auth-warning']),
      ...(options.tls === undefined ? [] : ['--tls', '--cacert', options.tls.ca]),
    ]);
    for (const server of servers) {
      await eventually(
        () => withClient(server.port, options, async (client) => (await client.cluster('INFO')).includes('cluster_state:ok')),
        `cluster node ${server.port} to report cluster_state:ok`,
        15_000,
      );
    }
  } catch (error) {
    await Promise.all(servers.map(killServer));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ports: servers.map((server) => server.port),
    nodes: servers.map((server) => `127.0.0.1:${server.port}`).join(','),
    /** The hash slot of a key, as the cluster computes it (`CLUSTER KEYSLOT`). */
    keySlot: (key: string) => withClient(servers[0]?.port ?? 0, options, (client) => client.cluster('KEYSLOT', key)),
    /** Deletes every key matching `pattern` on every node (a test's cleanup between runs). */
    async deleteKeys(pattern: string): Promise<void> {
      for (const server of servers) {
        await withClient(server.port, options, async (client) => {
          let cursor = '0';
          do {
            const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
            cursor = next;
            // Keys of one hash tag share a slot; delete per key so no command spans slots.
            for (const key of keys) await client.unlink(key);
          } while (cursor !== '0');
        });
      }
    },
    /** Kills every node and deletes the cluster's files. */
    async stop(): Promise<void> {
      await Promise.all(servers.map(killServer));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type PrivateRedisCluster = Awaited<ReturnType<typeof startRedisCluster>>;

/** The master name the private Sentinel watches. */
export const sentinelMasterName = 'drumbeat-primary';

/**
 * Starts a primary, a replica of it, and one Sentinel watching the primary (quorum 1, so a
 * single Sentinel may fail over, and `failover()` forces one at once). `sentinels` is the value
 * of `REDIS_SENTINELS`; `primaryPort()` asks the Sentinel which server is the primary now.
 */
export async function startRedisSentinel(options: TopologyOptions = {}) {
  if (options.tls !== undefined) throw new Error('the private Sentinel set runs without TLS');
  const dir = await mkdtemp(join(tmpdir(), 'drumbeat-sentinel-'));
  const servers: Server[] = [];
  const password = options.password;
  const sentinelAccess: ClientAccess = { password: options.sentinelPassword };
  try {
    const primaryPort = await freePort();
    servers.push(await startServer(redisArgs(primaryPort, dir, options), primaryPort, options));
    const replicaPort = await freePort();
    servers.push(await startServer([...redisArgs(replicaPort, dir, options), '--replicaof', '127.0.0.1', String(primaryPort)], replicaPort, options));
    await eventually(
      () => withClient(replicaPort, options, async (client) => (await client.info('replication')).includes('master_link_status:up')),
      'the replica to sync with its primary',
      15_000,
    );
    const sentinelPort = await freePort();
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        'bind 127.0.0.1',
        `port ${sentinelPort}`,
        `dir ${dir}`,
        `sentinel monitor ${sentinelMasterName} 127.0.0.1 ${primaryPort} 1`,
        `sentinel down-after-milliseconds ${sentinelMasterName} 1000`,
        `sentinel failover-timeout ${sentinelMasterName} 5000`,
        ...(password === undefined ? [] : [`sentinel auth-pass ${sentinelMasterName} ${password}`]),
        ...(options.sentinelPassword === undefined ? [] : [`requirepass ${options.sentinelPassword}`]),
        '',
      ].join('\n'),
    );
    servers.push(await startServer([conf, '--sentinel'], sentinelPort, sentinelAccess));
    await eventually(
      () => withClient(sentinelPort, sentinelAccess, async (client) => {
        const replicas = (await client.call('SENTINEL', 'REPLICAS', sentinelMasterName)) as unknown[];
        return replicas.length > 0;
      }),
      'the Sentinel to discover the replica',
      15_000,
    );
  } catch (error) {
    await Promise.all(servers.map(killServer));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const sentinelPort = servers[2]?.port ?? 0;

  async function primaryPort(): Promise<number> {
    const [, port] = (await withClient(sentinelPort, sentinelAccess, (client) => client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinelMasterName))) as [string, string];
    return Number(port);
  }

  return {
    sentinels: `127.0.0.1:${sentinelPort}`,
    name: sentinelMasterName,
    primaryPort,
    /**
     * Forces a failover (`SENTINEL FAILOVER`) and resolves once the Sentinel names the former
     * replica as the primary and that server says so itself.
     */
    async failover(): Promise<{ from: number; to: number }> {
      const from = await primaryPort();
      // A Sentinel that has not yet seen the replica answer its INFO refuses with NOGOODSLAVE; ask again.
      await eventually(
        () => withClient(sentinelPort, sentinelAccess, (client) => client.call('SENTINEL', 'FAILOVER', sentinelMasterName).then(() => true, (error: Error) => {
          if (error.message.startsWith('NOGOODSLAVE')) return false;
          throw error;
        })),
        'the Sentinel to accept the failover',
        20_000,
      );
      const to = await eventually(async () => {
        const now = await primaryPort();
        return now !== from && now;
      }, 'the Sentinel to promote the replica', 20_000);
      await eventually(() => withClient(to, options, async (client) => (await client.info('replication')).includes('role:master')), 'the new primary to take writes', 20_000);
      return { from, to };
    },
    /** Deletes every key matching `pattern` on the current primary. */
    async deleteKeys(pattern: string): Promise<void> {
      await withClient(await primaryPort(), options, async (client) => {
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await client.unlink(...keys);
        } while (cursor !== '0');
      });
    },
    /** Kills the Sentinel and both servers and deletes their files. */
    async stop(): Promise<void> {
      await Promise.all(servers.map(killServer));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type PrivateRedisSentinel = Awaited<ReturnType<typeof startRedisSentinel>>;
