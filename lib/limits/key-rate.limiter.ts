import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { RateLimitState } from '../errors/index.js';
import { storeCall } from '../common/store-call.util.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import type { RedisConnection } from '../redis/redis.connection.js';
import type { RedisOutagePolicy } from '../interfaces/redis-options.interface.js';

export interface RateLimitDecision extends RateLimitState {
  allowed: boolean;
}

export interface KeyRateLimiterOptions {
  /** Counters shared by every instance; without it they live in this process's memory. */
  redis?: RedisConnection | null;
  /** How long a Redis call may take before it counts as failed. */
  timeoutMs: number;
  /** When Redis fails: 503 (`AuthUnavailableError`), or count locally until it is back. Default the connection's. */
  onOutage?: RedisOutagePolicy;
}

/**
 * Fixed-window counters (`rate-limiter-flexible`), one window per id, in memory or shared through Redis
 * (`<prefix>rl:<namespace>:<limit>/<window>:<id>`, created by the first hit of a window and expiring with
 * it). A limiter is kept per distinct `(limit, window)` pair, so ids with their own limits share the
 * machinery.
 */
export class KeyRateLimiter {
  private readonly local = new Map<string, RateLimiterMemory>();
  private readonly shared = new Map<string, RateLimiterRedis>();
  private readonly logger = new ThrottledLogger('Keybridge');
  private readonly onOutage: RedisOutagePolicy;

  constructor(
    /** Keeps the counters of different uses apart: `requests`, `tokens`, `failed-auth`. */
    private readonly namespace: string,
    private readonly options: KeyRateLimiterOptions,
  ) {
    this.onOutage = options.onOutage ?? options.redis?.onOutage ?? 'fail-closed';
  }

  /**
   * Counts one hit for `id`. Throws `AuthUnavailableError` when the shared counter cannot be reached and the
   * policy is to fail closed.
   */
  async consume(id: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    const redis = this.options.redis;
    if (!redis) return decide(this.memory(limit, windowSeconds), id, limit);
    try {
      return await storeCall(this.options.timeoutMs, () =>
        decide(this.redis(redis, limit, windowSeconds), id, limit),
      );
    } catch (error) {
      if (this.onOutage === 'fail-closed') throw error;
      this.logger.warn(
        `Redis is unreachable; counting ${this.namespace} limits in this instance's memory until it is back.`,
      );
      return decide(this.memory(limit, windowSeconds), id, limit);
    }
  }

  private memory(limit: number, windowSeconds: number): RateLimiterMemory {
    return limiterFor(
      this.local,
      limit,
      windowSeconds,
      () => new RateLimiterMemory({ points: limit, duration: windowSeconds, keyPrefix: this.namespace }),
    );
  }

  private redis(redis: RedisConnection, limit: number, windowSeconds: number): RateLimiterRedis {
    return limiterFor(this.shared, limit, windowSeconds, (id) => {
      return new RateLimiterRedis({
        storeClient: redis.client,
        points: limit,
        duration: windowSeconds,
        keyPrefix: redis.key(`rl:${this.namespace}:${id}`),
        // While disconnected, fail at once rather than wait in ioredis's queue.
        rejectIfRedisNotReady: true,
      });
    });
  }
}

/** The limiter of one `(limit, window)` pair, made on first use. */
function limiterFor<T>(
  limiters: Map<string, T>,
  limit: number,
  windowSeconds: number,
  make: (id: string) => T,
): T {
  const id = `${limit}/${windowSeconds}`;
  let limiter = limiters.get(id);
  if (!limiter) {
    limiter = make(id);
    limiters.set(id, limiter);
  }
  return limiter;
}

async function decide(limiter: RateLimiterAbstract, id: string, limit: number): Promise<RateLimitDecision> {
  try {
    const res = await limiter.consume(id, 1);
    return { allowed: true, limit, remaining: res.remainingPoints, resetSeconds: res.msBeforeNext / 1000 };
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      return { allowed: false, limit, remaining: 0, resetSeconds: rejection.msBeforeNext / 1000 };
    }
    throw rejection;
  }
}
