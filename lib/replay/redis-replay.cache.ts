import { hash } from 'node:crypto';
import { storeCall } from '../common/store-call.util.js';
import type { ReplayCache } from '../interfaces/replay-cache.interface.js';
import type { RedisConnection } from '../redis/redis.connection.js';

/**
 * One-time identifiers in Redis, shared by every instance on the same prefix: `SET NX PX` records an
 * identifier and says whether it was new in one atomic step, so of two instances given the same assertion
 * exactly one accepts it.
 */
export class RedisReplayCache implements ReplayCache {
  constructor(
    private readonly redis: RedisConnection,
    private readonly timeoutMs: number,
  ) {}

  async claim(id: string, ttlMs: number): Promise<boolean> {
    // Hashed: identifiers are chosen by clients, and keys stay short and free of separators.
    const key = this.redis.key(`assertion:${hash('sha256', id, 'base64url')}`);
    const px = Math.max(1, Math.ceil(ttlMs));
    const reply = await storeCall(this.timeoutMs, () => this.redis.client.set(key, '1', 'PX', px, 'NX'));
    return reply === 'OK';
  }
}
