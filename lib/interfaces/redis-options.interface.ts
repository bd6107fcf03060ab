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

/** A Redis of the denylist's own, apart from the `redis` option's. */
export interface RedisDenylistOptions {
  /** A `redis://` URL, ioredis options, or a connected client (the store duplicates it; it does not close it). */
  redis: string | RedisOptions | Redis;
  /** Prefix of the sorted set and channel names. Default `keybridge:`. */
  keyPrefix?: string;
}
