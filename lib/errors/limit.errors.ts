import { HttpStatus } from '@nestjs/common';
import { retryAfterSeconds, tooManyRequestsHeaders, type RateLimitState } from './error-headers.js';
import { KeybridgeError } from './keybridge.error.js';

export class RateLimitedError extends KeybridgeError {
  static override readonly code = 'rate_limited' as const;
  declare readonly code: 'rate_limited';
  constructor(state: RateLimitState, reason = 'Rate limit exceeded.') {
    super(`${reason} Retry after ${retryAfterSeconds(state)} seconds.`, HttpStatus.TOO_MANY_REQUESTS, {
      headers: tooManyRequestsHeaders(state),
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
