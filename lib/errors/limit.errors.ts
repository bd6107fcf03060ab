import { HttpStatus } from '@nestjs/common';
import {
  namedRateLimitHeaders,
  retryAfterSeconds,
  tooManyRequestsHeaders,
  type NamedRateLimitState,
  type RateLimitState,
} from './error-headers.js';
import { KeybridgeError, type KeybridgeErrorBody } from './keybridge.error.js';

/**
 * Whose limit refused a request, as a 429 names it: the key's own (or the module default), or its owner's.
 *
 * @publicApi
 */
export type LimitScope = 'key' | 'owner';

/** The 429 body of a key's or owner's limit: the usual four fields and `scope` (and `limit` for rate limits). */
export interface LimitErrorBody extends KeybridgeErrorBody {
  scope: LimitScope;
  /** The refusing rate limit's name (`default` for a single `rateLimit`). */
  limit?: string;
}

function limitBody(
  message: string,
  code: 'rate_limited' | 'quota_exhausted',
  scope: LimitScope,
): LimitErrorBody {
  return { statusCode: HttpStatus.TOO_MANY_REQUESTS, error: 'Too Many Requests', message, code, scope };
}

/** Which of several named limits refused, for the body and headers of a 429. */
export interface RefusingLimit {
  /** The limit's name (`default` for a single `rateLimit`). */
  name: string;
  /** Whose limit it is. */
  scope: LimitScope;
  /** The request costs more than the limit holds: it can never be admitted. */
  tooCostly?: boolean;
  /** Every limit checked, for the `RateLimit-Policy` and `RateLimit` headers. */
  states?: readonly NamedRateLimitState[];
}

export class RateLimitedError extends KeybridgeError {
  static override readonly code = 'rate_limited' as const;
  declare readonly code: 'rate_limited';
  /** Whose rate limit was reached; `undefined` for the failed-authentication throttle of an address. */
  readonly scope: LimitScope | undefined;
  constructor(state: RateLimitState, reason = 'Rate limit exceeded.', refusing?: RefusingLimit) {
    const message = refusing?.tooCostly
      ? `This request costs more than the rate limit "${refusing.name}" allows (${state.limit} per window); it cannot be admitted.`
      : `${reason}${refusing && refusing.name !== 'default' ? ` (limit "${refusing.name}")` : ''} Retry after ${retryAfterSeconds(state)} seconds.`;
    const status = HttpStatus.TOO_MANY_REQUESTS;
    super(message, status, {
      headers: refusing?.states
        ? {
            'Retry-After': String(retryAfterSeconds(state)),
            ...namedRateLimitHeaders(refusing.states, state),
          }
        : tooManyRequestsHeaders(state),
      ...(refusing
        ? {
            body: { ...limitBody(message, 'rate_limited', refusing.scope), limit: refusing.name },
          }
        : {}),
    });
    this.scope = refusing?.scope;
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
