import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitState } from '../errors.js';

export interface RateLimitDecision extends RateLimitState {
  allowed: boolean;
}

/**
 * Per-key request rate limits, one fixed window per key. A limiter is kept per distinct
 * `(limit, window)` pair, so keys with their own limits share the machinery.
 */
export class KeyRateLimiter {
  private readonly limiters = new Map<string, RateLimiterMemory>();

  async consume(keyId: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    const limiter = this.limiterFor(limit, windowSeconds);
    try {
      const res = await limiter.consume(keyId, 1);
      return { allowed: true, limit, remaining: res.remainingPoints, resetSeconds: res.msBeforeNext / 1000 };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        return { allowed: false, limit, remaining: 0, resetSeconds: rejection.msBeforeNext / 1000 };
      }
      throw rejection;
    }
  }

  private limiterFor(limit: number, windowSeconds: number): RateLimiterMemory {
    const id = `${limit}/${windowSeconds}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterMemory({
        points: limit,
        duration: windowSeconds,
        keyPrefix: `keybridge:${id}`,
      });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }
}
