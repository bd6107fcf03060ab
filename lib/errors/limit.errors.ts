import { HttpStatus } from '@nestjs/common';
import {
  namedRateLimitHeaders,
  retryAfterSeconds,
  tooManyRequestsHeaders,
  type NamedRateLimitState,
  type RateLimitState,
} from './error-headers.js';
import { KeybridgeError } from './keybridge.error.js';

/** Which of several named limits refused, for the body and headers of a 429. */
export interface RefusingLimit {
  /** The limit's name (`default` for a single `rateLimit`). */
  name: string;
  /** Whose limit it is. */
  scope: 'key' | 'owner';
  /** The request costs more than the limit holds: it can never be admitted. */
  tooCostly?: boolean;
  /** Every limit checked, for the `RateLimit-Policy` and `RateLimit` headers. */
  states?: readonly NamedRateLimitState[];
}

export class RateLimitedError extends KeybridgeError {
  static override readonly code = 'rate_limited' as const;
  declare readonly code: 'rate_limited';
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
            body: {
              statusCode: status,
              error: 'Too Many Requests',
              message,
              code: 'rate_limited',
              limit: refusing.name,
              scope: refusing.scope,
            },
          }
        : {}),
    });
  }
}

export class QuotaExhaustedError extends KeybridgeError {
  static override readonly code = 'quota_exhausted' as const;
  declare readonly code: 'quota_exhausted';
  constructor(state: RateLimitState) {
    super('The quota of this API key is used up.', HttpStatus.TOO_MANY_REQUESTS, {
      headers: tooManyRequestsHeaders(state),
    });
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
