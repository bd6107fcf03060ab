import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';

/**
 * A Redis Cluster for the module to open: its seed nodes and, optionally, ioredis `Cluster` options.
 *
 * @publicApi
 */
export interface KeybridgeClusterConnection {
  clusterNodes: ClusterNode[];
  clusterOptions?: ClusterOptions;
}

/** What the `redis` option accepts beside a plain URL. */
export interface KeybridgeRedisOptions {
  /**
   * A `redis://` URL; ioredis options (with `sentinels` and `name` for Redis Sentinel); cluster seed nodes
   * (`{ clusterNodes, clusterOptions? }`); or an ioredis `Redis` or `Cluster` client (used as it is and never
   * closed by the module).
   */
  connection: string | RedisOptions | KeybridgeClusterConnection | Redis | Cluster;
  /**
   * Prefix of every key and channel the module uses. Default `keybridge:`. It is what keeps apps sharing a
   * Redis apart: pub/sub channels are shared by every database number.
   */
  keyPrefix?: string;
  /**
   * What rate limits do while Redis cannot be reached: `'fail-closed'` (default) answers requests that need a
   * counter with 503; `'local'` counts in this instance's memory until Redis is back, so each instance allows
   * the full limit meanwhile. Bearer tokens fail closed either way when the denylist is in Redis.
   */
  onOutage?: 'fail-closed' | 'local';
  /**
   * How many replicas must hold a token revocation before it is acknowledged (`WAIT`): a revocation no
   * replica acknowledged within half the `storeTimeout` fails with 503, so a failover cannot lose an
   * acknowledged one. Default 1 with Sentinel, 0 otherwise (a lone Redis has no replica to wait for).
   */
  revocationReplicas?: number;
}

export type RedisOutagePolicy = NonNullable<KeybridgeRedisOptions['onOutage']>;

/** A Redis of the denylist's own, apart from the `redis` option's. */
export interface RedisDenylistOptions {
  /** As the `redis` option's `connection` (a client is used as it is; the store does not close it). */
  redis: KeybridgeRedisOptions['connection'];
  /** Prefix of the sorted set and channel names. Default `keybridge:`. */
  keyPrefix?: string;
  /** As the `redis` option's. */
  revocationReplicas?: number;
}
