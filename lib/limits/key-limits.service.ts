import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Repository } from 'typeorm';
import { API_KEY_REPOSITORY, REDIS_CONNECTION, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ForbiddenOriginError, QuotaExhaustedError, RateLimitedError, rateLimitHeaders } from '../errors.js';
import type { ApiKeyEntity } from '../keys/api-key.entity.js';
import { storeCall } from '../common/store-call.util.js';
import type { RedisConnection } from '../redis/redis.connection.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import type { IncomingRequestLike } from '../common/client-address.util.js';
import { KeyRateLimiter } from './key-rate.limiter.js';

/** Seconds announced in `Retry-After` when a quota without refill is used up: it only returns if topped up. */
const NO_REFILL_RETRY_SECONDS = 86_400;

/** The per-key controls applied after a key is known to be valid: origin, rate limit, quota. */
@Injectable()
export class KeyLimitsService {
  private readonly rateLimiter: KeyRateLimiter;

  constructor(
    @Inject(API_KEY_REPOSITORY) private readonly repository: Repository<ApiKeyEntity>,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    @Optional() @Inject(REDIS_CONNECTION) redis: RedisConnection | null = null,
  ) {
    this.rateLimiter = new KeyRateLimiter('requests', { redis, timeoutMs: options.storeTimeoutMs });
  }

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
    return Boolean(key.rateLimit || key.hasQuota || this.options.rateLimit);
  }

  /**
   * Counts the request against the key's rate limit and quota. Returns the `RateLimit-*` headers to send,
   * or throws `RateLimitedError` / `QuotaExhaustedError` (429) or `AuthUnavailableError` (503).
   */
  async consume(key: VerifiedKey): Promise<Record<string, string> | undefined> {
    let headers: Record<string, string> | undefined;
    const limit = key.rateLimit ?? this.options.rateLimit;
    if (limit) {
      const decision = await this.rateLimiter.consume(key.id, limit.limit, limit.windowSeconds);
      if (!decision.allowed) throw new RateLimitedError(decision);
      headers = rateLimitHeaders(decision);
    }
    if (key.hasQuota) await this.consumeQuota(key);
    return headers;
  }

  /**
   * One atomic decrement per request (`UPDATE … WHERE remaining > 0`). A due refill is one more conditional
   * `UPDATE`, issued only when this process believes the interval has passed; instances racing for it refill
   * once.
   */
  private async consumeQuota(key: VerifiedKey): Promise<void> {
    const now = this.options.clock();
    const refill = key.quotaRefill;
    const consumed = await storeCall(this.options.storeTimeoutMs, async () => {
      if (refill && now >= key.quotaRefilledAtMs + refill.intervalSeconds * 1000) {
        const due = now - refill.intervalSeconds * 1000;
        const refilled = await this.repository
          .createQueryBuilder()
          .update()
          .set({ remaining: refill.amount, quotaRefilledAt: new Date(now) })
          .where('id = :id AND (quota_refilled_at IS NULL OR quota_refilled_at <= :due)', { id: key.id, due })
          .execute();
        if ((refilled.affected ?? 0) > 0) {
          key.quotaRefilledAtMs = now;
        } else {
          const record = await this.repository.findOne({
            where: { id: key.id },
            select: { id: true, quotaRefilledAt: true },
          });
          key.quotaRefilledAtMs = record?.quotaRefilledAt?.getTime() ?? now;
        }
      }
      const result = await this.repository
        .createQueryBuilder()
        .update()
        .set({ remaining: () => 'remaining - 1' })
        .where('id = :id AND remaining > 0', { id: key.id })
        .execute();
      return (result.affected ?? 0) > 0;
    });
    if (consumed) return;
    const resetSeconds = refill
      ? Math.max(1, (key.quotaRefilledAtMs + refill.intervalSeconds * 1000 - now) / 1000)
      : NO_REFILL_RETRY_SECONDS;
    throw new QuotaExhaustedError({ limit: refill?.amount ?? 0, remaining: 0, resetSeconds });
  }
}
