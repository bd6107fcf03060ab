import { databaseTargets, sqlite } from './databases.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './redis.js';

/** What two instances share to accept each one-time identifier once, and how to clean it up. */
export interface SharedStore {
  databaseUrl: string;
  options: object;
  done(): Promise<void>;
}

/**
 * The stores instances share to accept each client assertion or DPoP proof once: Redis when configured
 * (on a fresh SQLite file, so only Redis is shared), else each configured database, without Redis.
 */
export function sharedReplayStores(): [string, () => Promise<SharedStore>][] {
  const stores: [string, () => Promise<SharedStore>][] = [];
  const redisUrl = redisTarget();
  if (redisUrl) {
    stores.push([
      'one Redis prefix',
      async () => {
        const prefix = uniqueRedisPrefix();
        return {
          databaseUrl: await sqlite.fresh(),
          options: { redis: { connection: redisUrl, keyPrefix: prefix } },
          done: () => clearRedisPrefix(redisUrl, prefix),
        };
      },
    ]);
  }
  for (const target of databaseTargets()) {
    stores.push([
      `one ${target.name} database without Redis`,
      async () => ({ databaseUrl: await target.fresh(), options: {}, done: async () => undefined }),
    ]);
  }
  return stores;
}
