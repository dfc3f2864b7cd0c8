import type { Config } from '../config/config.js';
import { redactUrl } from '../config/config.js';

/** One Redis server or Sentinel address. */
export interface RedisAddress {
  host: string;
  port: number;
}

/** Credentials and TLS, the same for every Redis server of a deployment. */
export interface RedisAccess {
  username?: string;
  password?: string;
  tls: boolean;
}

/**
 * Where drumbeat's Redis is and how it is laid out, from the config (which has already refused
 * contradictory settings): one server (`REDIS_URL`), a Redis Cluster (`REDIS_CLUSTER_NODES`), or
 * a primary found through Sentinels (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`).
 */
export type RedisTopology =
  | { kind: 'single'; url: string; access: RedisAccess }
  | { kind: 'cluster'; nodes: RedisAddress[]; access: RedisAccess }
  | { kind: 'sentinel'; sentinels: RedisAddress[]; name: string; sentinelPassword?: string; access: RedisAccess };

type TopologySettings = Pick<
  Config,
  'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME' | 'REDIS_SENTINEL_PASSWORD' | 'REDIS_USERNAME' | 'REDIS_PASSWORD' | 'REDIS_TLS'
>;

/** The topology the config describes. */
export function redisTopology(config: TopologySettings): RedisTopology {
  const access: RedisAccess = {
    ...(config.REDIS_USERNAME === undefined ? {} : { username: config.REDIS_USERNAME }),
    ...(config.REDIS_PASSWORD === undefined ? {} : { password: config.REDIS_PASSWORD }),
    tls: config.REDIS_TLS,
  };
  if (config.REDIS_CLUSTER_NODES !== undefined) return { kind: 'cluster', nodes: config.REDIS_CLUSTER_NODES, access };
  if (config.REDIS_SENTINELS !== undefined) {
    return {
      kind: 'sentinel',
      sentinels: config.REDIS_SENTINELS,
      // The config refuses REDIS_SENTINELS without a name; the fallback is Sentinel's own default.
      name: config.REDIS_SENTINEL_NAME ?? 'mymaster',
      ...(config.REDIS_SENTINEL_PASSWORD === undefined ? {} : { sentinelPassword: config.REDIS_SENTINEL_PASSWORD }),
      access,
    };
  }
  return { kind: 'single', url: config.REDIS_URL, access: { ...access, tls: access.tls || config.REDIS_URL.startsWith('rediss:') } };
}

/** `host:port,host:port`, as the operator wrote it. */
export function formatAddresses(addresses: readonly RedisAddress[]): string {
  return addresses.map((address) => `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`).join(',');
}

/** Where the topology points, safe to print (no password). */
export function describeTopologySettings(topology: RedisTopology): string {
  switch (topology.kind) {
    case 'single':
      return `Redis at ${redactUrl(topology.url)}`;
    case 'cluster':
      return `Redis Cluster through ${formatAddresses(topology.nodes)}`;
    case 'sentinel':
      return `Redis master "${topology.name}" through Sentinels ${formatAddresses(topology.sentinels)}`;
  }
}

/** The variable an operator fixes when this topology cannot be reached. */
export function topologySetting(topology: RedisTopology): string {
  return topology.kind === 'single' ? 'REDIS_URL' : topology.kind === 'cluster' ? 'REDIS_CLUSTER_NODES' : 'REDIS_SENTINELS and REDIS_SENTINEL_NAME';
}
