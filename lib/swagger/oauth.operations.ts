import type { HeaderObject, OperationObject, ResponseObject, ResponsesObject } from '@nestjs/swagger';
import type { OAuthEndpoint } from './route.inventory.js';
import { schemaRef, type OAUTH_SCHEMA_NAMES } from './oauth.schemas.js';
import type { KeybridgeSecurity } from './security.schemes.js';

/** The tag of the library's OAuth endpoints. */
export const OAUTH_TAG = 'OAuth 2.0';

const header = (description: string, example?: string): HeaderObject => ({
  description,
  schema: { type: 'string', ...(example ? { example } : {}) },
});

const NO_STORE = { 'Cache-Control': header('Never cached.', 'no-store'), Pragma: header('', 'no-cache') };
const CACHEABLE = { 'Cache-Control': header('Cacheable for five minutes.', 'public, max-age=300') };

function json(
  description: string,
  schema: keyof typeof OAUTH_SCHEMA_NAMES,
  headers: Record<string, HeaderObject> = NO_STORE,
): ResponseObject {
  return { description, headers, content: { 'application/json': { schema: schemaRef(schema) } } };
}

/** RFC 6749 §5.2 error answers, each in `{ error, error_description }`; only introspection answers 403. */
function errors(forbidden = false): ResponsesObject {
  const error = (description: string, extra: Record<string, HeaderObject> = {}) =>
    json(description, 'error', { ...NO_STORE, ...extra });
  return {
    400: error(
      "invalid_request, invalid_grant, unsupported_grant_type, invalid_scope, invalid_target, or unauthorized_client (an address or referrer the key does not allow, or another client's token).",
    ),
    401: error('invalid_client: client authentication failed or is missing.', {
      'WWW-Authenticate': header('The challenge of the client authentication method.'),
    }),
    ...(forbidden ? { 403: error('insufficient_scope: the client does not hold tokens:introspect.') } : {}),
    429: error('rate_limited or quota_exhausted: the client or its address sent too many requests.', {
      'Retry-After': header('Seconds to wait.'),
    }),
    503: error(
      'temporarily_unavailable: the key store or the denylist cannot be reached; nothing was issued.',
      {
        'Retry-After': header('Seconds to wait.'),
      },
    ),
  };
}

function form(schema: keyof typeof OAUTH_SCHEMA_NAMES): OperationObject['requestBody'] {
  return {
    required: true,
    content: {
      'application/x-www-form-urlencoded': { schema: schemaRef(schema) },
      'application/json': { schema: schemaRef(schema) },
    },
  };
}

/** The operation that documents one OAuth endpoint, as the endpoint really answers. */
export function oauthOperation(endpoint: OAuthEndpoint, security: KeybridgeSecurity): OperationObject {
  const tags = [OAUTH_TAG];
  switch (endpoint) {
    case 'token':
      return {
        tags,
        summary: 'Trade an API key for an access token',
        description:
          'Client credentials (RFC 6749 §4.4; client_id = key id, client_secret = key) or token exchange of an API key (RFC 8693). The client authenticates with HTTP Basic, in the body (client_secret_post) or with the API key header.',
        security: security.oauthClient(),
        requestBody: form('tokenRequest'),
        responses: { 200: json('The access token.', 'tokenResponse'), ...errors() },
      };
    case 'revocation':
      return {
        tags,
        summary: 'Revoke an access token or an API key',
        description:
          'RFC 7009. An access token needs its client to authenticate; an API key proves itself and is revoked with every token minted from it. Unknown tokens answer 200 too.',
        security: security.oauthClient(),
        requestBody: form('revocationRequest'),
        responses: {
          200: {
            description: 'Revoked, or nothing to revoke.',
            headers: NO_STORE,
            content: { 'application/json': { schema: { type: 'object', maxProperties: 0 } } },
          },
          ...errors(),
        },
      };
    case 'introspection':
      return {
        tags,
        summary: 'Inspect an access token',
        description: 'RFC 7662. The client must hold the scope tokens:introspect.',
        security: security.oauthClient(),
        requestBody: form('introspectionRequest'),
        responses: {
          200: json('Whether the token is active, and its claims.', 'introspectionResponse'),
          ...errors(true),
        },
      };
    case 'jwks':
      return {
        tags,
        summary: 'Public keys that verify access tokens',
        responses: { 200: json('RFC 7517 JSON Web Key Set.', 'jwks', CACHEABLE) },
      };
    case 'metadata':
      return {
        tags,
        summary: 'Authorization server metadata',
        responses: { 200: json('RFC 8414 metadata.', 'metadata', CACHEABLE) },
      };
    case 'protectedResource':
      return {
        tags,
        summary: 'Protected resource metadata',
        description:
          'RFC 9728. The path-suffixed form (this path followed by a resource path) describes a resource under the API.',
        responses: { 200: json('RFC 9728 metadata.', 'protectedResource', CACHEABLE) },
      };
    case 'authorization':
      return {
        tags,
        summary: 'Authorization endpoint',
        description:
          'Supports no response type: every request is answered with unsupported_response_type (RFC 6749 §4.1.2.1), never redirected.',
        responses: { 400: json('unsupported_response_type.', 'error') },
      };
  }
}
