import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { formatAddresses, redisTopology, topologySetting, type RedisAccess, type RedisAddress, type RedisTopology } from './topology.js';

export type { Redis, Cluster };

/** A connection to drumbeat's Redis, whatever its topology: one server (also through Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * What a connection is for decides how it behaves while Redis is away:
 * - `worker`: BullMQ workers and the producers inside them wait and retry forever
 *   (`maxRetriesPerRequest: null`), so a Redis restart never kills a job or a process.
 * - `http`: producers used by HTTP handlers fail fast (`enableOfflineQueue: false`), so a
 *   request answers 503 instead of hanging while Redis is down.
 * - `probe`: one look (preflight, `/readyz`): connects when asked, never retries.
 */
export type ConnectionRole = 'worker' | 'http' | 'probe';

/** Back off up to 2 s between reconnection attempts; never give up. */
const reconnectDelay = (times: number) => Math.min(times * 100, 2000);

/** Per-command behaviour of each role, for one server (a cluster node or the primary). */
function roleOptions(role: ConnectionRole): RedisOptions {
  switch (role) {
    case 'worker':
      return { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: reconnectDelay };
    case 'http':
      return { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, retryStrategy: reconnectDelay };
    case 'probe':
      return { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null };
  }
}

function accessOptions(access: RedisAccess): RedisOptions {
  return {
    ...(access.username === undefined ? {} : { username: access.username }),
    ...(access.password === undefined ? {} : { password: access.password }),
    ...(access.tls ? { tls: {} } : {}),
  };
}

function clusterOptions(role: ConnectionRole, access: RedisAccess): ClusterOptions {
  const { maxRetriesPerRequest, connectTimeout } = roleOptions(role);
  return {
    enableReadyCheck: true,
    enableOfflineQueue: role === 'worker',
    lazyConnect: role === 'probe',
    // Reconnecting the whole cluster follows the role; a single node is left to MOVED and slot refreshes.
    clusterRetryStrategy: role === 'probe' ? () => null : reconnectDelay,
    redisOptions: { maxRetriesPerRequest, connectTimeout, ...accessOptions(access) },
  };
}

function sentinelOptions(role: ConnectionRole, topology: Extract<RedisTopology, { kind: 'sentinel' }>): RedisOptions {
  return {
    ...roleOptions(role),
    ...accessOptions(topology.access),
    sentinels: topology.sentinels,
    name: topology.name,
    ...(topology.sentinelPassword === undefined ? {} : { sentinelPassword: topology.sentinelPassword }),
    ...(topology.access.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    sentinelRetryStrategy: role === 'probe' ? () => null : reconnectDelay,
    // A failover ends with the Sentinel killing the clients of the demoted primary, and a
    // reconnection asks the Sentinels for the primary again. A write that still reaches a
    // demoted primary is refused with READONLY: reconnect and resend it to the new one.
    // (ioredis's `failoverDetector` is left off: `quit()` leaves its Sentinel sockets open.)
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
  };
}

/** The ioredis client of a topology, for a role, without listeners. */
export function openRedis(topology: RedisTopology, role: ConnectionRole): RedisClient {
  switch (topology.kind) {
    case 'single':
      return new Redis(topology.url, { ...roleOptions(role), ...accessOptions(topology.access) });
    case 'cluster':
      return new Cluster(topology.nodes, clusterOptions(role, topology.access));
    case 'sentinel':
      return new Redis(sentinelOptions(role, topology));
  }
}

/** Creates the connection of the configured topology for the given role, with an `error` listener attached. */
export function createRedisConnection(config: Parameters<typeof redisTopology>[0], role: ConnectionRole, log: Logger): RedisClient {
  const connection = openRedis(redisTopology(config), role);
  let lastLoggedAt = 0;
  const logError = (error: Error) => {
    // A down Redis produces an error per reconnection attempt; log at most one per 5 s.
    const now = Date.now();
    if (now - lastLoggedAt > 5000) {
      lastLoggedAt = now;
      log.warn({ err: error, role }, 'redis connection error');
    }
  };
  connection.on('error', logError);
  // A cluster reports a failing node separately from the cluster as a whole.
  if (connection instanceof Cluster) connection.on('node error', logError);
  return connection;
}

/**
 * Reads Redis's `maxmemory-policy`; BullMQ needs `noeviction` or jobs can silently vanish. On a
 * Cluster every primary is asked and the first policy that is not `noeviction` is returned.
 */
export async function readEvictionPolicy(connection: RedisClient): Promise<string> {
  const servers = connection instanceof Cluster ? connection.nodes('master') : [connection];
  const policies = await Promise.all(
    servers.map(async (server) => {
      const reply = (await server.config('GET', 'maxmemory-policy')) as string[];
      return reply[1] ?? 'unknown';
    }),
  );
  return policies.find((policy) => policy !== 'noeviction') ?? policies[0] ?? 'unknown';
}

/** The primary the Sentinels name for `name` now, asking each Sentinel in turn until one answers. */
export async function currentPrimary(topology: Extract<RedisTopology, { kind: 'sentinel' }>): Promise<RedisAddress> {
  const failures: string[] = [];
  for (const sentinel of topology.sentinels) {
    const client = new Redis({
      ...sentinel,
      ...roleOptions('probe'),
      ...(topology.sentinelPassword === undefined ? {} : { password: topology.sentinelPassword }),
      ...(topology.access.tls ? { tls: {} } : {}),
    });
    client.on('error', () => {
      // Reported through the failed command below.
    });
    try {
      await client.connect();
      const reply = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', topology.name)) as [string, string] | null;
      if (reply === null) throw new Error(`the Sentinel knows no master named "${topology.name}"`);
      return { host: reply[0], port: Number(reply[1]) };
    } catch (error) {
      failures.push(`${formatAddresses([sentinel])}: ${(error as Error).message}`);
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`no Sentinel named the primary (${failures.join('; ')})`);
}

/**
 * One sentence on the topology a connected client sees: the single server, the cluster's nodes,
 * or the Sentinel master name and its current primary.
 */
export async function describeConnectedTopology(connection: RedisClient, topology: RedisTopology): Promise<string> {
  if (connection instanceof Cluster) {
    const primaries = connection.nodes('master').length;
    const all = connection.nodes('all').length;
    return `a Redis Cluster of ${all} node${all === 1 ? '' : 's'} (${primaries} primar${primaries === 1 ? 'y' : 'ies'}, ${all - primaries} replica${all - primaries === 1 ? '' : 's'})`;
  }
  if (topology.kind === 'sentinel') {
    const primary = await currentPrimary(topology);
    return `current primary ${formatAddresses([primary])}`;
  }
  return 'a single Redis server';
}

/** Whether the server a (non-cluster) connection talks to is a Redis Cluster node. */
async function isClusterNode(server: Redis): Promise<boolean> {
  return /^cluster_enabled:1\r?$/m.test(await server.info('cluster'));
}

/**
 * One sentence when the configured topology is not the one that answers: a Cluster node given
 * as one server (every command for a slot of another node would fail with MOVED). Undefined
 * when they match.
 */
export async function topologyMismatch(connection: RedisClient, topology: RedisTopology): Promise<string | undefined> {
  if (connection instanceof Cluster || !(await isClusterNode(connection))) return undefined;
  return `${topologySetting(topology)} points at a Redis Cluster node; give the cluster's nodes in REDIS_CLUSTER_NODES instead (with a {hash-tag} in QUEUE_PREFIX).`;
}

/**
 * Why a cluster connection could not be made, when its first node answers as a plain server:
 * REDIS_CLUSTER_NODES naming a server without cluster support. Undefined otherwise.
 */
export async function notAClusterReason(topology: Extract<RedisTopology, { kind: 'cluster' }>): Promise<string | undefined> {
  const [first] = topology.nodes;
  if (first === undefined) return undefined;
  const server = new Redis({ ...first, ...roleOptions('probe'), ...accessOptions(topology.access) });
  server.on('error', () => {
    // Unreachable: the caller's own error says so.
  });
  try {
    await server.connect();
    if (await isClusterNode(server)) return undefined;
    return `REDIS_CLUSTER_NODES names ${formatAddresses([first])}, which is not a Redis Cluster node (cluster support disabled); use REDIS_URL for a single server.`;
  } catch {
    return undefined;
  } finally {
    server.disconnect();
  }
}
