import type { ClusterOptions, RedisOptions } from 'ioredis';

export const DEFAULT_REDIS_PREFIX = 'keybridge:';

/** Settings every connection the module opens is made with. */
export const REDIS_CONNECTION_SETTINGS = {
  // A command sent while disconnected fails at once (503) instead of waiting in a queue…
  enableOfflineQueue: false,
  // …and so does one in flight when the connection drops (with retries, ioredis would drop it silently).
  maxRetriesPerRequest: 0,
  // A command answered with 503 must not be carried out later, when the link heals: a counter would be
  // charged for a request that was refused.
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
  lazyConnect: true,
  keepAlive: 1000,
} satisfies RedisOptions;

/**
 * Added for a master found through Sentinel. `failoverDetector` listens to the sentinels and reconnects to the
 * new master the moment they switch, instead of writing to the old master until it is demoted (about 11 s, and
 * writes made then are lost); `READONLY` (a demoted master) also reconnects at once.
 */
export const SENTINEL_SETTINGS = {
  failoverDetector: true,
  updateSentinels: true,
  sentinelRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
  reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 1 : false),
} satisfies RedisOptions;

/** Settings every Cluster the module opens is made with, in the spirit of `REDIS_CONNECTION_SETTINGS`. */
export const CLUSTER_SETTINGS = {
  enableOfflineQueue: false,
  lazyConnect: true,
  clusterRetryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
  redisOptions: {
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    keepAlive: 1000,
  },
} satisfies ClusterOptions;
