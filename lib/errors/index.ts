/**
 * One error hierarchy: every HTTP error is a `KeybridgeError` with a stable `code`; `InvalidOptionsError`
 * stops a misconfigured app at boot.
 */
export {
  bearerChallenge,
  namedRateLimitHeaders,
  rateLimitHeaders,
  type NamedRateLimitState,
  type RateLimitState,
} from './error-headers.js';
export * from './keybridge.error.js';
export * from './request.errors.js';
export * from './limit.errors.js';
export * from './admin.errors.js';
export * from './oauth.error.js';
export * from './invalid-options.error.js';
export * from './dpop.errors.js';
import type {
  AmbiguousCredentialsError,
  ApiKeyInQueryError,
  ForbiddenOriginError,
  InsufficientScopeError,
  InvalidApiKeyError,
  InvalidTokenError,
  MissingCredentialsError,
} from './request.errors.js';
import type { AuthUnavailableError, QuotaExhaustedError, RateLimitedError } from './limit.errors.js';
import type { InvalidArgumentError, KeyConflictError, KeyNotFoundError } from './admin.errors.js';
import type { OAuthError } from './oauth.error.js';
import type { InvalidOptionsError } from './invalid-options.error.js';
import type { InvalidDpopProofError, UseDpopNonceError } from './dpop.errors.js';

/** Every error the library throws; `switch (error.code)` narrows to the class. */
export type AnyKeybridgeError =
  | MissingCredentialsError
  | InvalidApiKeyError
  | InvalidTokenError
  | InsufficientScopeError
  | ForbiddenOriginError
  | RateLimitedError
  | QuotaExhaustedError
  | AuthUnavailableError
  | ApiKeyInQueryError
  | InvalidArgumentError
  | KeyNotFoundError
  | KeyConflictError
  | AmbiguousCredentialsError
  | OAuthError
  | InvalidOptionsError
  | InvalidDpopProofError
  | UseDpopNonceError;
