import { Inject, Injectable } from '@nestjs/common';
import {
  KEY_QUOTAS,
  OWNER_QUOTAS,
  REQUEST_RATE_LIMITER,
  RESOLVED_OPTIONS,
} from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import {
  ForbiddenOriginError,
  QuotaExhaustedError,
  RateLimitedError,
  rateLimitHeaders,
  type LimitScope,
} from '../errors/index.js';
import type { KeyRateLimit } from '../keys/api-key.entity.js';
import type { QuotaLedger } from '../keys/quota.ledger.js';
import type { QuotaHolder } from '../keys/quota.rows.js';
import { SubjectLimitsService } from '../keys/subject-limits.service.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import type { IncomingRequestLike } from '../common/client-address.util.js';
import { KeyRateLimiter, type RateLimitDecision } from './key-rate.limiter.js';

/** Seconds announced in `Retry-After` when a quota without refill is used up: it only returns if topped up. */
const NO_REFILL_RETRY_SECONDS = 86_400;

/**
 * The per-key controls applied after a key is known to be valid: origin, then the key's own rate limit and
 * quota, then its owner's (the `subject`'s, shared by all of its keys and their tokens).
 *
 * @publicApi
 */
@Injectable()
export class KeyLimitsService {
  constructor(
    @Inject(KEY_QUOTAS) private readonly keyQuotas: QuotaLedger,
    @Inject(OWNER_QUOTAS) private readonly ownerQuotas: QuotaLedger,
    private readonly owners: SubjectLimitsService,
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

  /**
   * Whether a request with this key has anything to count: a rate limit (its own or the default), a quota,
   * or limits of its owner (known from the owners' cache; an owner not looked up yet counts as limited).
   */
  applyTo(key: VerifiedKey): boolean {
    if (key.rateLimit || key.hasQuota || this.options.rateLimit) return true;
    const owner = this.owners.limitsOf(key.principal.subject);
    // A read under way is awaited again by consume(); its failure is answered there.
    if (owner instanceof Promise) owner.catch(() => undefined);
    return owner !== null;
  }

  /**
   * Counts the request against the key's rate limit and quota, then its owner's. Returns the `RateLimit-*`
   * headers to send (the owner's when it has a rate limit), or throws `RateLimitedError` /
   * `QuotaExhaustedError` (429, `scope` naming whose limit it was) or `AuthUnavailableError` (503).
   */
  async consume(key: VerifiedKey): Promise<Record<string, string> | undefined> {
    let headers: Record<string, string> | undefined;
    const limit = key.rateLimit ?? this.options.rateLimit;
    if (limit) headers = await this.countRate(key.id, limit, 'key');
    if (key.hasQuota) await this.spendQuota(this.keyQuotas, key, 'key');
    const owner = await this.owners.limitsOf(key.principal.subject);
    if (owner?.rateLimit) headers = await this.countRate(`owner:${owner.id}`, owner.rateLimit, 'owner');
    if (owner?.hasQuota) await this.spendQuota(this.ownerQuotas, owner, 'owner');
    return headers;
  }

  /** One hit of a rate limit: the only call into the limiter, for a key (its id) or an owner (`owner:<subject>`). */
  private async countRate(
    id: string,
    limit: KeyRateLimit,
    scope: LimitScope,
  ): Promise<Record<string, string>> {
    const decision: RateLimitDecision = await this.rateLimiter.consume(id, limit.limit, limit.windowSeconds);
    if (!decision.allowed) throw new RateLimitedError(decision, undefined, scope);
    return rateLimitHeaders(decision);
  }

  /** One unit of a quota, refilled first when due; 429 when it is used up. */
  private async spendQuota(ledger: QuotaLedger, holder: QuotaHolder, scope: LimitScope): Promise<void> {
    if (await ledger.spend(holder)) return;
    const now = this.options.clock();
    const refill = holder.quotaRefill;
    const resetSeconds = refill
      ? Math.max(1, (holder.quotaRefilledAtMs + refill.intervalSeconds * 1000 - now) / 1000)
      : NO_REFILL_RETRY_SECONDS;
    throw new QuotaExhaustedError({ limit: refill?.amount ?? 0, remaining: 0, resetSeconds }, scope);
  }
}
