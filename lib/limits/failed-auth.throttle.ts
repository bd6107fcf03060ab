import type { ResolvedLimit } from '../interfaces/resolved-options.interface.js';
import { RateLimitedError } from '../errors/index.js';
import { TtlCache } from '../common/ttl.cache.js';
import type { KeyRateLimiter } from './key-rate.limiter.js';

const MAX_TRACKED_ADDRESSES = 100_000;

/**
 * Failed authentications counted per client address (on the wall clock, like the rate limits), in memory or
 * across instances through Redis. An address over the limit is refused with 429 before its next credential
 * costs a database read or a signature check; credentials already in the verified caches keep working, so
 * clients sharing an address with an attacker (behind a proxy that `trustedProxies` does not cover) are not
 * all locked out. With Redis, each instance learns that an address is over the shared limit from its own
 * next failure from it. The throttle is a shield, not an authorization: while Redis is unreachable it counts
 * in memory.
 */
export class FailedAuthThrottle {
  /** Addresses over the limit, until when: the request path reads this synchronously. */
  private readonly blocked: TtlCache<number>;

  constructor(
    private readonly limit: ResolvedLimit,
    /** Counts failures; it counts locally while Redis is out, as a shield should. */
    private readonly counter: KeyRateLimiter,
  ) {
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
    this.counter.consume(key, this.limit.limit, this.limit.windowSeconds).then(
      (decision) => {
        if (decision.allowed) return;
        const until = Date.now() + decision.resetSeconds * 1000;
        this.blocked.set(key, until, until);
      },
      () => undefined,
    );
  }
}
