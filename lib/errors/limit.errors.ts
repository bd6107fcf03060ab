import { HttpStatus } from '@nestjs/common';
import { retryAfterSeconds, tooManyRequestsHeaders, type RateLimitState } from './error-headers.js';
import { KeybridgeError, type KeybridgeErrorBody } from './keybridge.error.js';

/** Whose limit a 429 reached: the key's own, or its owner's (shared by every key of the subject). */
export type LimitScope = 'key' | 'owner';

/** The 429 body of a key's or owner's limit: the usual four fields and `scope`. */
export interface LimitErrorBody extends KeybridgeErrorBody {
  scope: LimitScope;
}

function limitBody(
  message: string,
  code: 'rate_limited' | 'quota_exhausted',
  scope: LimitScope,
): LimitErrorBody {
  return { statusCode: HttpStatus.TOO_MANY_REQUESTS, error: 'Too Many Requests', message, code, scope };
}

export class RateLimitedError extends KeybridgeError {
  static override readonly code = 'rate_limited' as const;
  declare readonly code: 'rate_limited';
  /** Whose rate limit was reached; `undefined` for the failed-authentication throttle of an address. */
  readonly scope: LimitScope | undefined;
  constructor(state: RateLimitState, reason = 'Rate limit exceeded.', scope?: LimitScope) {
    const message = `${reason} Retry after ${retryAfterSeconds(state)} seconds.`;
    super(message, HttpStatus.TOO_MANY_REQUESTS, {
      headers: tooManyRequestsHeaders(state),
      body: scope && limitBody(message, 'rate_limited', scope),
    });
    this.scope = scope;
  }
}

export class QuotaExhaustedError extends KeybridgeError {
  static override readonly code = 'quota_exhausted' as const;
  declare readonly code: 'quota_exhausted';
  /** Whose quota was used up; `undefined` (and no `scope` in the body) when the thrower does not say. */
  readonly scope: LimitScope | undefined;
  constructor(state: RateLimitState, scope?: LimitScope) {
    const message =
      scope === 'owner'
        ? "The quota of this API key's owner is used up."
        : 'The quota of this API key is used up.';
    super(message, HttpStatus.TOO_MANY_REQUESTS, {
      headers: tooManyRequestsHeaders(state),
      body: scope && limitBody(message, 'quota_exhausted', scope),
    });
    this.scope = scope;
  }
}

export class AuthUnavailableError extends KeybridgeError {
  static override readonly code = 'auth_unavailable' as const;
  declare readonly code: 'auth_unavailable';
  constructor(cause?: unknown) {
    super('Authentication is temporarily unavailable. Try again shortly.', HttpStatus.SERVICE_UNAVAILABLE, {
      headers: { 'Retry-After': '1' },
      cause,
    });
  }
}
