import type { ExecutionContext } from '@nestjs/common';
import type { IncomingRequestLike } from '../common/client-address.util.js';
import { repeatsAuthorization } from '../common/http-headers.util.js';
import {
  AmbiguousCredentialsError,
  ApiKeyInQueryError,
  InvalidApiKeyError,
  InvalidTokenError,
  MissingCredentialsError,
} from '../errors/index.js';
import type { Principal } from '../interfaces/principal.interface.js';

export type AuthenticatedRequest = IncomingRequestLike & { user?: Principal };

/** The request a guard checks and the response it sets headers on. */
export interface GuardedExchange {
  request: AuthenticatedRequest;
  response: unknown;
  /** The route being guarded: a refusal's challenge names the scopes it needs. */
  context?: ExecutionContext;
  /** Set when the credential came with the DPoP scheme: refusals then carry the DPoP challenge first. */
  dpop?: boolean;
}

/** What reading a credential depends on, taken once from the resolved options. */
export interface CredentialSettings {
  /** The API key header, as configured and in lower case. */
  header: string;
  headerKey: string;
  /** The 401 challenge of a missing or invalid key. */
  challenge: string;
  realm: string;
  /** False with `oauth: false`: `Authorization: Bearer` is then not a credential of this module. */
  bearerTokens: boolean;
  /** Lower-cased query parameter names that carry a key. */
  queryKeyParameters: ReadonlySet<string>;
}

/**
 * The HTTP request behind an execution context: the request itself, or for GraphQL the `req` of the
 * operation's context. Other transports carry no headers to present a key in: they are refused.
 */
export function exchangeOf(context: ExecutionContext, challenge: string): GuardedExchange {
  const type = context.getType<string>();
  if (type === 'http') {
    // The HTTP arguments directly: switchToHttp() builds three closures per call.
    return {
      request: context.getArgByIndex<AuthenticatedRequest>(0),
      response: context.getArgByIndex<unknown>(1),
      context,
    };
  }
  if (type === 'graphql') {
    const graphqlContext = context.getArgByIndex<{
      req?: AuthenticatedRequest;
      res?: unknown;
      reply?: unknown;
    }>(2);
    if (graphqlContext?.req?.headers) {
      return { request: graphqlContext.req, response: graphqlContext.res ?? graphqlContext.reply, context };
    }
  }
  throw new MissingCredentialsError(challenge);
}

/**
 * The first query parameter that carries a credential: one of `names`, or of `also`. Names compare
 * case-insensitively: `?API_KEY=` leaks a key just as well.
 */
export function queryCredentialOf(
  request: IncomingRequestLike,
  names: ReadonlySet<string>,
  also?: ReadonlySet<string>,
): string | undefined {
  const url = request.originalUrl ?? request.url ?? '';
  const queryStart = url.indexOf('?');
  if (queryStart === -1 || (names.size === 0 && !also)) return undefined;
  for (const name of new URLSearchParams(url.slice(queryStart + 1)).keys()) {
    const lower = name.toLowerCase();
    if (names.has(lower) || also?.has(lower)) return name;
  }
  return undefined;
}

/** Refuses a key sent in the query string: the URL, key included, lands in access logs. */
export function refuseQueryKey(request: IncomingRequestLike, settings: CredentialSettings): void {
  const name = queryCredentialOf(request, settings.queryKeyParameters);
  if (name !== undefined) throw new ApiKeyInQueryError(name, settings.header);
}

/** The key in the configured header. Several copies of the header are refused rather than guessed between. */
export function apiKeyOf(request: IncomingRequestLike, settings: CredentialSettings): string {
  const value = request.headers[settings.headerKey];
  if (value === undefined || value === '' || (typeof value === 'string' && value.trim() === '')) {
    throw new MissingCredentialsError(settings.challenge);
  }
  // Node joins repeated custom headers with ", "; no key contains a comma.
  if (Array.isArray(value) || value.includes(',')) {
    throw new InvalidApiKeyError('duplicate_header', settings.challenge);
  }
  return value;
}

/**
 * The token of an `Authorization: Bearer` header, or `undefined` when there is none (or bearer tokens are
 * off). Other schemes are ignored. A bearer token beside an API key is refused: one credential per request.
 */
export function bearerOf(request: IncomingRequestLike, settings: CredentialSettings): string | undefined {
  return tokenOf(request, settings, 'bearer');
}

/** The token of an `Authorization: DPoP` header (RFC 9449 §7.1), read like `bearerOf`. */
export function dpopTokenOf(request: IncomingRequestLike, settings: CredentialSettings): string | undefined {
  return tokenOf(request, settings, 'dpop');
}

function tokenOf(
  request: IncomingRequestLike,
  settings: CredentialSettings,
  scheme: 'bearer' | 'dpop',
): string | undefined {
  if (!settings.bearerTokens) return undefined;
  const value = request.headers.authorization;
  const length = scheme.length;
  // `Bearer` alone counts: Node trims the space of an empty `Bearer ` header.
  if (
    typeof value !== 'string' ||
    value.slice(0, length).toLowerCase() !== scheme ||
    (value.length > length && value[length] !== ' ')
  ) {
    return undefined;
  }
  const apiKey = request.headers[settings.headerKey];
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.trim() !== '')) {
    throw new AmbiguousCredentialsError(settings.header);
  }
  if (repeatsAuthorization(request)) throw new InvalidTokenError('duplicate_header', settings.realm);
  const token = value.slice(length).trim();
  if (token === '') throw new InvalidTokenError('malformed', settings.realm);
  return token;
}
