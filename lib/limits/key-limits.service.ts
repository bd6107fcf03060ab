import { Inject, Injectable } from '@nestjs/common';
import { REQUEST_RATE_LIMITER, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ForbiddenOriginError, QuotaExhaustedError } from '../errors/index.js';
import { ApiKeyRepository } from '../keys/api-key.repository.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import type { IncomingRequestLike } from '../common/client-address.util.js';
import { KeyRateLimiter } from './key-rate.limiter.js';
import { limitHeaders } from './limit.headers.js';
import type { LimitCounter } from './limit.types.js';

/** Seconds announced in `Retry-After` when a quota without refill is used up: it only returns if topped up. */
const NO_REFILL_RETRY_SECONDS = 86_400;

/**
 * The per-key controls applied after a key is known to be valid: origin, rate limit, quota.
 *
 * @publicApi
 */
@Injectable()
export class KeyLimitsService {
  constructor(
    private readonly repository: ApiKeyRepository,
    @Inject(REQUEST_RATE_LIMITER) private readonly rateLimiter: KeyRateLimiter,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {}

  /** Throws `ForbiddenOriginError` when the key is restricted to addresses or referrers the request is not from. */
  checkOrigin(key: VerifiedKey, request: IncomingRequestLike, clientIp: string | undefined): void {
    if (key.ipAllowList && !key.ipAllowList.allows(clientIp)) throw new ForbiddenOriginError('ip');
    if (key.referrers) {
      const origin = request.headers.origin ?? request.headers.referer;
      if (!key.referrers.allows(Array.isArray(origin) ? origin[0] : origin))
        throw new ForbiddenOriginError('referrer');
    }
  }

  /** Whether a request with this key has anything to count: a rate limit (its own or the default) or a quota. */
  applyTo(key: VerifiedKey): boolean {
    return Boolean(key.rateLimits || key.hasQuota || this.options.rateLimits);
  }

  /** The key's rate limits as a counter of the request limiter: its own, else the module default. */
  counterOf(key: VerifiedKey): LimitCounter | undefined {
    const limits = key.rateLimits ?? this.options.rateLimits;
    return limits ? { id: key.id, scope: 'key', limits } : undefined;
  }

  /**
   * Counts the request, of `cost` units (`@Cost()`, default 1), against the key's rate limits and one unit of
   * its quota. Returns the `RateLimit-*` headers to send, or throws `RateLimitedError` /
   * `QuotaExhaustedError` (429) or `AuthUnavailableError` (503).
   */
  async consume(key: VerifiedKey, cost = 1): Promise<Record<string, string> | undefined> {
    let headers: Record<string, string> | undefined;
    const counter = this.counterOf(key);
    if (counter) headers = limitHeaders(await this.rateLimiter.check([counter], cost));
    if (key.hasQuota) await this.consumeQuota(key);
    return headers;
  }

  /** One unit of the key's quota, refilled first when due; 429 when it is used up. */
  private async consumeQuota(key: VerifiedKey): Promise<void> {
    const now = this.options.clock();
    if (await this.repository.spendQuota(key, now)) return;
    const refill = key.quotaRefill;
    const resetSeconds = refill
      ? Math.max(1, (key.quotaRefilledAtMs + refill.intervalSeconds * 1000 - now) / 1000)
      : NO_REFILL_RETRY_SECONDS;
    throw new QuotaExhaustedError({ limit: refill?.amount ?? 0, remaining: 0, resetSeconds });
  }
}
