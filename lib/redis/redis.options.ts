import type { Redis, RedisOptions } from 'ioredis';

/** What the `redis` option accepts beside a plain URL. */
export interface KeybridgeRedisOptions {
  /**
   * A `redis://` URL, ioredis options, or an ioredis `Redis` client (used as it is and never closed by the
   * module; a `Cluster` is not supported).
   */
  connection: string | RedisOptions | Redis;
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
}

export type RedisOutagePolicy = NonNullable<KeybridgeRedisOptions['onOutage']>;

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
