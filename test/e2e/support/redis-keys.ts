import { Redis } from 'ioredis';

/**
 * Deletes the Redis keys matching `pattern` (a `SCAN` pattern such as `kbtest:…:rl:failed-auth:*`) and returns
 * how many there were: a suite that shares an app between tests uses it to start a counter's window afresh.
 */
export async function deleteRedisKeys(url: string, pattern: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}
