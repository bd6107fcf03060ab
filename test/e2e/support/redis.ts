import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** `TEST_REDIS_URL`, or `undefined` when it is unset: the Redis suites are then left out. */
export function redisTarget(): string | undefined {
  return process.env.TEST_REDIS_URL || undefined;
}

/** A key prefix no other test uses: pub/sub channels are shared by every Redis database number. */
export function uniqueRedisPrefix(): string {
  return `kbtest:${randomUUID()}:`;
}

/** Runs `use` with a fresh connection of its own, closed afterwards. */
async function withRedis<T>(url: string, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** The entries of the denylist sorted set under `prefix`, with their expiry (epoch ms). */
export function denylistEntries(url: string, prefix: string): Promise<Map<string, number>> {
  return withRedis(url, async (redis) => {
    const flat = await redis.zrange(`${prefix}denylist`, 0, -1, 'WITHSCORES');
    const entries = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) entries.set(flat[i], Number(flat[i + 1]));
    return entries;
  });
}

/** Deletes what a test left under `prefix`. */
export function clearRedisPrefix(url: string, prefix: string): Promise<void> {
  return withRedis(url, async (redis) => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
}

/**
 * Deletes the Redis keys matching `pattern` (a `SCAN` pattern such as `kbtest:…:rl:failed-auth:*`) and returns
 * how many there were: a suite that shares an app between tests uses it to start a counter's window afresh.
 */
export function deleteRedisKeys(url: string, pattern: string): Promise<number> {
  return withRedis(url, async (redis) => {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  });
}
