/**
 * The driver's own connection to the bench's Redis, for checks and clean-up (never the server's): one per
 * run, opened when first needed.
 */
import { Redis } from 'ioredis';
import type { BenchRedis } from './bench.config.js';
import { fail, withoutPassword } from './run.args.js';

let redisDriver: Redis | undefined;

function redisClient(url: string): Redis {
  if (!redisDriver) {
    redisDriver = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
    // Failures surface through the commands that need the connection; this only silences ioredis's own log.
    redisDriver.on('error', () => undefined);
  }
  return redisDriver;
}

/** Fails early, with a clear message, when the Redis of `--limits redis` does not answer. */
export async function checkRedis(url: string): Promise<void> {
  const client = redisClient(url);
  try {
    if (client.status === 'wait') await client.connect();
    await client.ping();
  } catch (error) {
    fail(
      `--limits redis: Redis at ${withoutPassword(url)} does not answer ` +
        `(${error instanceof Error ? error.message : String(error)}); start it or pass --redis-url.`,
    );
  }
}

/** The keys under a server's prefix that match `pattern` (a SCAN pattern after the prefix). */
export async function redisKeys(redis: BenchRedis, pattern: string): Promise<string[]> {
  const client = redisClient(redis.url);
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${redis.keyPrefix}${pattern}`, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Deletes what a server left under its own prefix (its counters), so runs leave nothing behind. */
export async function deleteRedisKeys(redis: BenchRedis): Promise<void> {
  try {
    const keys = await redisKeys(redis, '*');
    if (keys.length > 0) await redisClient(redis.url).del(...keys);
  } catch (error) {
    console.warn(
      `  could not delete the Redis keys under ${redis.keyPrefix} (they expire within the hour): ` +
        (error instanceof Error ? error.message : String(error)),
    );
  }
}

/** Closes the driver's connection, if one was opened, so the process can exit. */
export function disconnectRedis(): void {
  redisDriver?.disconnect();
}
