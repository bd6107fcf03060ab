import { Inject, Injectable } from '@nestjs/common';
import {
  KEY_QUOTAS,
  OWNER_QUOTAS,
  REQUEST_RATE_LIMITER,
  RESOLVED_OPTIONS,
} from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ForbiddenOriginError, QuotaExhaustedError } from '../errors/index.js';
import type { LimitScope } from '../interfaces/rate-limit.interface.js';
import type { QuotaLedger } from '../keys/quota.ledger.js';
import type { QuotaHolder } from '../keys/quota.rows.js';
import { SubjectLimitsService } from '../keys/subject-limits.service.js';
import type { OwnerLimits } from '../keys/owner-limits.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import type { IncomingRequestLike } from '../common/client-address.util.js';
import { KeyRateLimiter } from './key-rate.limiter.js';
import { limitHeaders } from './limit.headers.js';
import type { LimitCounter } from './limit.types.js';

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
    if (key.rateLimits || key.hasQuota || this.options.rateLimits) return true;
    const owner = this.owners.limitsOf(key.principal.subject);
    // A read under way is awaited again by consume(); its failure is answered there.
    if (owner instanceof Promise) owner.catch(() => undefined);
    return owner !== null;
  }

  /** The key's rate limits as a counter of the request limiter: its own, else the module default. */
  counterOf(key: VerifiedKey): LimitCounter | undefined {
    const limits = key.rateLimits ?? this.options.rateLimits;
    return limits ? { id: key.id, scope: 'key', limits } : undefined;
  }

  /**
   * Counts the request, of `cost` units (`@Cost()`, default 1), against the key's rate limits and its owner's
   * (one all-or-nothing check), then one unit of the key's quota and of its owner's. Returns the `RateLimit-*`
   * headers to send, or throws `RateLimitedError` / `QuotaExhaustedError` (429, `scope` naming whose limit
   * it was) or `AuthUnavailableError` (503).
   */
  async consume(key: VerifiedKey, cost = 1): Promise<Record<string, string> | undefined> {
    let headers: Record<string, string> | undefined;
    const owner = await this.owners.limitsOf(key.principal.subject);
    const counters = this.countersOf(key, owner);
    if (counters.length > 0) headers = limitHeaders(await this.rateLimiter.check(counters, cost));
    if (key.hasQuota) await this.spendQuota(this.keyQuotas, key, 'key');
    if (owner?.hasQuota) await this.spendQuota(this.ownerQuotas, owner, 'owner');
    return headers;
  }

  /** The counters a request spends: the key's (or the default) and its owner's (`owner:<subject>`). */
  private countersOf(key: VerifiedKey, owner: OwnerLimits | null): LimitCounter[] {
    const counters: LimitCounter[] = [];
    const own = this.counterOf(key);
    if (own) counters.push(own);
    if (owner?.rateLimits)
      counters.push({ id: `owner:${owner.id}`, scope: 'owner', limits: owner.rateLimits });
    return counters;
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
