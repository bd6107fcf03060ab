import { Inject, Injectable } from '@nestjs/common';
import { REDIS_CONNECTION, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { storeCall } from '../common/store-call.util.js';
import { AuthUnavailableError } from '../errors/index.js';
import { DenylistStore } from '../interfaces/denylist-store.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ApiKeyRepository } from '../keys/api-key.repository.js';
import type { RedisConnection } from '../redis/redis.connection.js';

/**
 * What the module depends on, as a health check sees it: whether the key table answers within the store
 * timeout, whether the denylist can vouch for its answers (`stale`: bearer tokens are refused with 503 until
 * it can), and with the `redis` option whether Redis answers a ping. No cause, no address, no secret.
 *
 * @publicApi
 */
export interface KeybridgeHealthReport {
  keyStore: 'up' | 'down';
  denylist: 'fresh' | 'stale';
  redis?: 'up' | 'down';
}

/**
 * Checks the module's stores for a health endpoint, without depending on `@nestjs/terminus`; the Terminus
 * indicator (`nestjs-keybridge/health`) is built on it.
 *
 * @publicApi
 */
@Injectable()
export class KeybridgeHealthProbe {
  constructor(
    private readonly keys: ApiKeyRepository,
    @Inject(DenylistStore) private readonly denylist: DenylistStore,
    @Inject(REDIS_CONNECTION) private readonly redis: RedisConnection | null,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {}

  async check(): Promise<KeybridgeHealthReport> {
    const [keyStore, redis] = await Promise.all([
      this.keys.ping().then(
        () => 'up' as const,
        () => 'down' as const,
      ),
      this.redis ? this.pingRedis(this.redis) : undefined,
    ]);
    return { keyStore, denylist: this.denylistIsCurrent() ? 'fresh' : 'stale', ...(redis ? { redis } : {}) };
  }

  /** Whether the report says every part works. */
  static healthy(report: KeybridgeHealthReport): boolean {
    return report.keyStore === 'up' && report.denylist === 'fresh' && report.redis !== 'down';
  }

  private denylistIsCurrent(): boolean {
    if (this.denylist.isCurrent) return this.denylist.isCurrent();
    try {
      this.denylist.has('health:probe', this.options.clock());
      return true;
    } catch (error) {
      if (error instanceof AuthUnavailableError) return false;
      throw error;
    }
  }

  private pingRedis(redis: RedisConnection): Promise<'up' | 'down'> {
    return storeCall(this.options.storeTimeoutMs, () => redis.client.ping()).then(
      () => 'up' as const,
      () => 'down' as const,
    );
  }
}
