import {
  AmbiguousCredentialsError,
  ApiKeyInQueryError,
  AuthUnavailableError,
  ForbiddenOriginError,
  InsufficientScopeError,
  InvalidApiKeyError,
  InvalidDpopProofError,
  InvalidTokenError,
  MissingCredentialsError,
  QuotaExhaustedError,
  RateLimitedError,
  type KeybridgeError,
} from '../errors/index.js';
import type { KeybridgeEvent } from '../interfaces/keybridge-event.interface.js';

/**
 * The audit event of a refused request, or `undefined` for a refusal that has none. `keyId` is the key the
 * request was already known to come from, when the refusal itself does not name one.
 */
export function refusalEvent(
  refusal: KeybridgeError,
  ip: string | undefined,
  keyId: string | undefined,
  at: Date,
): KeybridgeEvent | undefined {
  if (refusal instanceof InvalidTokenError) {
    return { type: 'auth.failed', reason: `token_${refusal.reason}`, keyId: refusal.keyId ?? keyId, ip, at };
  }
  if (refusal instanceof InvalidDpopProofError) {
    const reason = `dpop_${refusal.reason}` as const;
    return { type: 'auth.failed', reason, keyId: refusal.keyId ?? keyId, authMethod: 'dpop', ip, at };
  }
  if (refusal instanceof AmbiguousCredentialsError) {
    return { type: 'auth.failed', reason: 'ambiguous_credentials', ip, at };
  }
  if (refusal instanceof InvalidApiKeyError) {
    return { type: 'auth.failed', reason: refusal.reason, keyId: refusal.keyId ?? keyId, ip, at };
  }
  if (refusal instanceof MissingCredentialsError) {
    return { type: 'auth.failed', reason: 'missing_credentials', ip, at };
  }
  if (refusal instanceof ApiKeyInQueryError) return { type: 'auth.failed', reason: 'key_in_query', ip, at };
  if (refusal instanceof InsufficientScopeError) {
    return { type: 'auth.failed', reason: 'insufficient_scope', keyId, ip, at };
  }
  if (refusal instanceof ForbiddenOriginError) {
    return { type: 'auth.failed', reason: originReason(refusal), keyId, ip, at };
  }
  if ((refusal instanceof RateLimitedError || refusal instanceof QuotaExhaustedError) && keyId) {
    return { type: 'auth.rate_limited', keyId, limit: limitOf(refusal), scope: refusal.scope, ip, at };
  }
  if (refusal instanceof RateLimitedError) return { type: 'auth.throttled', ip, at };
  if (refusal instanceof AuthUnavailableError) {
    return { type: 'auth.unavailable', message: 'key store or denylist unreachable', ip, at };
  }
  return undefined;
}

/** The `auth.failed` reason of a refused origin. */
export function originReason(refusal: ForbiddenOriginError): 'forbidden_ip' | 'forbidden_referrer' {
  return refusal.reason === 'ip' ? 'forbidden_ip' : 'forbidden_referrer';
}

/** Which limit a 429 reports in `auth.rate_limited`. */
export function limitOf(refusal: RateLimitedError | QuotaExhaustedError): 'rate' | 'quota' {
  return refusal instanceof RateLimitedError ? 'rate' : 'quota';
}
