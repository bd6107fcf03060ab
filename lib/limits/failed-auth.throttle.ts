import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { ResolvedLimit } from '../api-key.options.js';
import { RateLimitedError } from '../errors.js';
import { TtlCache } from '../keys/ttl.cache.js';

const MAX_TRACKED_ADDRESSES = 100_000;

/**
 * Failed authentications counted per client address (on the wall clock, like the rate limits) (`rate-limiter-flexible`). An address over the limit
 * is refused with 429 before its next credential costs a database read or a signature check; credentials
 * already in the verified caches keep working, so clients sharing an address with an attacker (behind a
 * proxy that `trustedProxies` does not cover) are not all locked out.
 */
export class FailedAuthThrottle {
  private readonly counter: RateLimiterMemory;
  /** Addresses over the limit, until when: the request path reads this synchronously. */
  private readonly blocked: TtlCache<number>;

  constructor(private readonly limit: ResolvedLimit) {
    this.counter = new RateLimiterMemory({
      points: limit.limit,
      duration: limit.windowSeconds,
      keyPrefix: 'keybridge:failed-auth',
    });
    this.blocked = new TtlCache(MAX_TRACKED_ADDRESSES, limit.windowSeconds * 1000, Date.now);
  }

  /** Throws 429 `rate_limited` when the address has failed too often within the window. */
  check(address: string | undefined): void {
    const until = this.blocked.get(address ?? 'unknown');
    if (until === undefined) return;
    const resetSeconds = Math.max(1, (until - Date.now()) / 1000);
    throw new RateLimitedError(
      { limit: this.limit.limit, remaining: 0, resetSeconds },
      'Too many failed authentication attempts from this address.',
    );
  }

  /** Counts one failure; past the limit, the address is blocked until the window ends. */
  fail(address: string | undefined): void {
    const key = address ?? 'unknown';
    this.counter.penalty(key, 1).then(
      (res) => {
        if (res.consumedPoints <= this.limit.limit) return;
        const until = Date.now() + res.msBeforeNext;
        this.blocked.set(key, until, until);
      },
      () => undefined,
    );
  }
}
