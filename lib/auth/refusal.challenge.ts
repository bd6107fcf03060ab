import { InsufficientScopeError, InvalidTokenError, type KeybridgeError } from '../errors/index.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import type { RouteRequirements } from './route.requirements.js';

/**
 * The refusal's headers, with every 401 and 403 carrying the challenge of the route: the scopes it needs
 * (RFC 6750 §3, as the MCP authorization spec selects them) and, with bearer tokens on, where the
 * protected resource metadata is. A refusal about DPoP puts its `DPoP` challenge (`dpop`) first, with the
 * error; the `Bearer` and `ApiKey` challenges follow without one.
 */
export function challengedHeaders(
  refusal: KeybridgeError,
  options: ResolvedApiKeyOptions,
  route: RouteRequirements | undefined,
  dpop: string | undefined,
): Readonly<Record<string, string>> {
  const scopes = route?.scopes ?? [];
  if (dpop) {
    const rest = options.challengeFor(scopes, undefined, undefined, route?.resource);
    return { ...refusal.headers, 'WWW-Authenticate': `${dpop}, ${rest}` };
  }
  const error =
    refusal instanceof InvalidTokenError
      ? 'invalid_token'
      : refusal instanceof InsufficientScopeError
        ? 'insufficient_scope'
        : undefined;
  const description = refusal instanceof InvalidTokenError ? refusal.message : undefined;
  return {
    ...refusal.headers,
    'WWW-Authenticate': options.challengeFor(scopes, error, description, route?.resource),
  };
}
