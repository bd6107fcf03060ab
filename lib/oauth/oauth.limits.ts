import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS, TOKEN_RATE_LIMITER } from '../api-key.internal-constants.js';
import { OAuthError, QuotaExhaustedError, RateLimitedError, rateLimitHeaders } from '../errors/index.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import { limitOf } from '../events/refusal.events.js';
import type { ResolvedApiKeyOptions, ResolvedLimit } from '../interfaces/resolved-options.interface.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import { KeyLimitsService } from '../limits/key-limits.service.js';
import type { KeyRateLimiter } from '../limits/key-rate.limiter.js';

/** What the OAuth endpoints count: token minting per key and per address, and a key's own limits. */
@Injectable()
export class OAuthLimits {
  constructor(
    private readonly limits: KeyLimitsService,
    @Inject(TOKEN_RATE_LIMITER) private readonly tokenLimiter: KeyRateLimiter,
    private readonly events: KeybridgeEventEmitter,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {}

  /** One unit of the key's rate limit and quota, as for a request to any route. */
  async spend(key: VerifiedKey, ip: string | undefined): Promise<void> {
    if (!this.limits.applyTo(key)) return;
    try {
      await this.limits.consume(key);
    } catch (error) {
      if (error instanceof RateLimitedError || error instanceof QuotaExhaustedError) {
        this.events.emit({
          type: 'auth.rate_limited',
          keyId: key.id,
          limit: limitOf(error),
          scope: error.scope,
          ip,
          at: new Date(this.options.clock()),
        });
        throw new OAuthError(error.code, error.message, HttpStatus.TOO_MANY_REQUESTS, { ...error.headers });
      }
      throw error;
    }
  }

  /** Token minting limits, per client address and per key. */
  async mint(kind: 'address' | 'key', id: string, limit: ResolvedLimit | undefined): Promise<void> {
    if (!limit) return;
    const decision = await this.tokenLimiter.consume(`${kind}:${id}`, limit.limit, limit.windowSeconds);
    if (decision.allowed) return;
    const retryAfter = Math.max(1, Math.ceil(decision.resetSeconds));
    throw new OAuthError(
      'rate_limited',
      kind === 'key'
        ? `Too many tokens requested for this key. Retry after ${retryAfter} seconds.`
        : `Too many requests from this address. Retry after ${retryAfter} seconds.`,
      HttpStatus.TOO_MANY_REQUESTS,
      { 'Retry-After': String(retryAfter), ...rateLimitHeaders(decision) },
    );
  }
}
