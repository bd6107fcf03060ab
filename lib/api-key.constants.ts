import type { OAuthRoutes } from './interfaces/api-key-options.interface.js';

/** The name the Passport strategy registers under: `AuthGuard('api-key')`. */
export const API_KEY_STRATEGY = 'api-key';

/** Metadata key written by `@Scopes()`. */
export const SCOPES_METADATA = 'keybridge:scopes';

/** Metadata key written by `@McpEndpoint()`: the scopes a request's body asks for, and its resource path. */
export const REQUEST_SCOPES_METADATA = 'keybridge:request-scopes';
export const RESOURCE_PATH_METADATA = 'keybridge:resource-path';

/** Metadata key written by `@Cost()`: the units of rate limit a request to the route spends. */
export const COST_METADATA = 'keybridge:cost';

/** The name the single `rateLimit` of a key or of the module goes by in headers and 429s. */
export const DEFAULT_LIMIT_NAME = 'default';

/** What a limit's name may be: it appears in Redis keys and in structured header strings. */
export const LIMIT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** Metadata key written by `@Public()`. */
export const PUBLIC_METADATA = 'keybridge:public';

/** Query parameters refused on guarded routes, because query strings end up in access logs. */
export const DEFAULT_QUERY_KEY_PARAMETERS: readonly string[] = Object.freeze(['api_key', 'apiKey', 'key']);

export const DEFAULT_API_KEY_HEADER = 'X-API-Key';

/** Where the module mounts the OAuth endpoints unless the `oauth` extra says otherwise. */
export const DEFAULT_OAUTH_ROUTES: Readonly<OAuthRoutes> = Object.freeze({
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  jwks: '/.well-known/jwks.json',
  metadata: '/.well-known/oauth-authorization-server',
  protectedResource: '/.well-known/oauth-protected-resource',
  authorization: '/oauth/authorize',
});

/** The longest `tokenTtl` accepted. */
export const MAX_TOKEN_LIFETIME_MS = 86_400_000;

/** The longest `clockTolerance` accepted. */
export const MAX_CLOCK_TOLERANCE_MS = 5 * 60_000;

/** The scope a client needs to call the introspection endpoint. */
export const INTROSPECTION_SCOPE = 'tokens:introspect';

export const GRANT_CLIENT_CREDENTIALS = 'client_credentials';
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 `subject_token_type` of an API key. */
export const API_KEY_TOKEN_TYPE = 'urn:nestjs-keybridge:token-type:api-key';
export const ACCESS_TOKEN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
