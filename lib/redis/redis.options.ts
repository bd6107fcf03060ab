import type { RedisOptions } from 'ioredis';

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
