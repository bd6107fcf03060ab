import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type {
  KeybridgeClusterConnection,
  KeybridgeRedisOptions,
} from '../interfaces/redis-options.interface.js';
import { CLUSTER_SETTINGS, REDIS_CONNECTION_SETTINGS, SENTINEL_SETTINGS } from './redis.options.js';

/** A client the module talks to: one Redis (alone or found through Sentinel) or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

interface NodeAddress {
  host: string;
  port: number;
}

/** Whether the module was handed a client to use as it is (rather than options to open one from). */
export function isClient(connection: KeybridgeRedisOptions['connection']): connection is RedisClient {
  return connection instanceof Redis || connection instanceof Cluster;
}

/** Whether `connection` reaches its master through Sentinel. */
export function usesSentinel(client: RedisClient): boolean {
  return client instanceof Redis && (client.options.sentinels?.length ?? 0) > 0;
}

/** A client made from the `connection` option with the module's settings, not connected yet. */
export function openClient(
  connection: Exclude<KeybridgeRedisOptions['connection'], RedisClient>,
): RedisClient {
  if (typeof connection === 'string') return new Redis(connection, REDIS_CONNECTION_SETTINGS);
  if ('clusterNodes' in connection) return openCluster(connection);
  const sentinel = (connection.sentinels?.length ?? 0) > 0 ? SENTINEL_SETTINGS : {};
  return new Redis({ ...connection, ...REDIS_CONNECTION_SETTINGS, ...sentinel });
}

function openCluster({ clusterNodes, clusterOptions = {} }: KeybridgeClusterConnection): Cluster {
  return new Cluster(clusterNodes, {
    ...clusterOptions,
    ...CLUSTER_SETTINGS,
    redisOptions: { ...clusterOptions.redisOptions, ...CLUSTER_SETTINGS.redisOptions },
  });
}

/**
 * A connection of its own for a subscription, made like the command connection except that commands wait
 * for it to connect rather than fail. On a Cluster it is one plain connection to any node (a classic
 * `PUBLISH` reaches every node of a cluster), aimed at the next known node each time it reconnects, so a
 * node that died or went silent is left for another.
 */
export function subscriberFor(client: RedisClient): Redis {
  const settings = { ...REDIS_CONNECTION_SETTINGS, enableOfflineQueue: true };
  if (client instanceof Redis) return client.duplicate(settings);
  let next = 0;
  const aim = (): void => {
    const nodes = knownNodes(client);
    const node = nodes[next++ % nodes.length];
    // ioredis reads `host` and `port` from `options` at every connection attempt, and calls `retryStrategy`
    // before each reconnection: the next attempt goes to this node.
    if (node) Object.assign(subscriber.options, node);
  };
  const subscriber: Redis = new Redis({
    ...clusterAuth(client),
    ...settings,
    retryStrategy: (attempt: number) => {
      aim();
      return REDIS_CONNECTION_SETTINGS.retryStrategy(attempt);
    },
  });
  aim();
  return subscriber;
}

/** What a node connection of `cluster` needs beside an address: credentials and TLS. */
function clusterAuth(cluster: Cluster): RedisOptions {
  const { username, password, tls } = cluster.options.redisOptions ?? {};
  return { username, password, tls };
}

/** The cluster's nodes as it last saw them, else the nodes it was started from. */
function knownNodes(cluster: Cluster): NodeAddress[] {
  const seen = cluster
    .nodes('all')
    .map(({ options }) => ({ host: options.host ?? '127.0.0.1', port: options.port ?? 6379 }));
  if (seen.length > 0) return seen;
  const seeds = (cluster as unknown as { startupNodes: ClusterNode[] }).startupNodes ?? [];
  return seeds.map(addressOf);
}

function addressOf(node: ClusterNode): NodeAddress {
  if (typeof node === 'number') return { host: '127.0.0.1', port: node };
  if (typeof node === 'string') {
    const url = new URL(node.includes('://') ? node : `redis://${node}`);
    return { host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) };
  }
  return { host: node.host ?? '127.0.0.1', port: node.port ?? 6379 };
}
