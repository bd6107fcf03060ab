import type { ReferenceObject, SchemaObject } from '@nestjs/swagger';
import {
  ACCESS_TOKEN_TOKEN_TYPE,
  API_KEY_TOKEN_TYPE,
  GRANT_CLIENT_CREDENTIALS,
  GRANT_TOKEN_EXCHANGE,
} from '../api-key.constants.js';

/** The names of the OAuth endpoints' schemas in `components.schemas`. */
export const OAUTH_SCHEMA_NAMES = {
  tokenRequest: 'KeybridgeTokenRequest',
  tokenResponse: 'KeybridgeTokenResponse',
  revocationRequest: 'KeybridgeRevocationRequest',
  introspectionRequest: 'KeybridgeIntrospectionRequest',
  introspectionResponse: 'KeybridgeIntrospectionResponse',
  error: 'KeybridgeOAuthError',
  jwks: 'KeybridgeJsonWebKeySet',
  metadata: 'KeybridgeAuthorizationServerMetadata',
  protectedResource: 'KeybridgeProtectedResourceMetadata',
} as const;

export function schemaRef(name: keyof typeof OAUTH_SCHEMA_NAMES): ReferenceObject {
  return { $ref: `#/components/schemas/${OAUTH_SCHEMA_NAMES[name]}` };
}

const string = (description: string, extra: SchemaObject = {}): SchemaObject => ({
  type: 'string',
  description,
  ...extra,
});

/** `client_secret_post` and `private_key_jwt` credentials, accepted by every endpoint that authenticates a client. */
const CLIENT_FIELDS: Record<string, SchemaObject> = {
  client_id: string('The key id (client_secret_post, or the key a token exchange must belong to).'),
  client_secret: string('The API key (client_secret_post).', { format: 'password' }),
  client_assertion_type: string('private_key_jwt (RFC 7523 §2.2).', {
    enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'],
  }),
  client_assertion: string('A JWT signed with the key registered on the API key (private_key_jwt).', {
    format: 'password',
  }),
};

const TOKEN_HINT = string('RFC 7009 hint; the endpoint works out the kind of token itself.', {
  enum: ['access_token'],
});

const CLAIMS: Record<string, SchemaObject> = {
  iss: string('Issuer.'),
  sub: string('The key owner (the key subject).'),
  aud: {
    description: 'Audience(s).',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
  },
  exp: { type: 'integer', description: 'Expiry, seconds since the epoch.' },
  iat: { type: 'integer', description: 'Issued at, seconds since the epoch.' },
  jti: string('Token id.'),
  client_id: string('The key id the token was minted from.'),
  scope: string('Space-delimited scopes.'),
};

/** The schemas the OAuth operations refer to, written from what the endpoints send and accept. */
export const OAUTH_SCHEMAS: Record<string, SchemaObject> = {
  [OAUTH_SCHEMA_NAMES.tokenRequest]: {
    type: 'object',
    required: ['grant_type'],
    properties: {
      grant_type: string('client_credentials (RFC 6749 §4.4) or token exchange of an API key (RFC 8693).', {
        enum: [GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE],
      }),
      scope: string('Space-delimited subset of the key scopes; all of them when omitted.'),
      audience: string('One of the configured audiences (RFC 8693); the first when omitted.'),
      resource: string('One of the configured audiences (RFC 8707).'),
      ...CLIENT_FIELDS,
      subject_token: string('Token exchange: the API key.', { format: 'password' }),
      subject_token_type: string('Token exchange: the type of subject_token.', {
        enum: [API_KEY_TOKEN_TYPE],
      }),
      requested_token_type: string('Token exchange: optional, an access token.', {
        enum: [ACCESS_TOKEN_TOKEN_TYPE],
      }),
    },
  },
  [OAUTH_SCHEMA_NAMES.tokenResponse]: {
    type: 'object',
    required: ['access_token', 'token_type', 'expires_in', 'scope'],
    properties: {
      access_token: string('An RFC 9068 JWT (typ at+jwt).'),
      token_type: string('Always Bearer.', { enum: ['Bearer'] }),
      expires_in: { type: 'integer', description: 'Lifetime in seconds.' },
      scope: string('Space-delimited scopes the token holds.'),
      issued_token_type: string('Token exchange only.', { enum: [ACCESS_TOKEN_TOKEN_TYPE] }),
    },
  },
  [OAUTH_SCHEMA_NAMES.revocationRequest]: {
    type: 'object',
    required: ['token'],
    properties: {
      token: string('An access token from this server, or an API key (revokes the key).', {
        format: 'password',
      }),
      token_type_hint: TOKEN_HINT,
      ...CLIENT_FIELDS,
    },
  },
  [OAUTH_SCHEMA_NAMES.introspectionRequest]: {
    type: 'object',
    required: ['token'],
    properties: {
      token: string('The access token to inspect.', { format: 'password' }),
      token_type_hint: TOKEN_HINT,
      ...CLIENT_FIELDS,
    },
  },
  [OAUTH_SCHEMA_NAMES.introspectionResponse]: {
    type: 'object',
    required: ['active'],
    description: 'RFC 7662: `{ active: false }`, or the claims of an active token.',
    properties: {
      active: { type: 'boolean' },
      token_type: string('Bearer', { enum: ['Bearer'] }),
      ...CLAIMS,
    },
  },
  [OAUTH_SCHEMA_NAMES.error]: {
    type: 'object',
    required: ['error', 'error_description'],
    description: 'RFC 6749 §5.2 error response.',
    properties: {
      error: string(
        'Error code, like invalid_request, invalid_client, invalid_scope or temporarily_unavailable.',
      ),
      error_description: string('What went wrong, for the developer.'),
    },
  },
  [OAUTH_SCHEMA_NAMES.jwks]: {
    type: 'object',
    required: ['keys'],
    description: 'RFC 7517 JSON Web Key Set: the public keys that verify access tokens.',
    properties: {
      keys: {
        type: 'array',
        items: {
          type: 'object',
          required: ['kty', 'kid', 'alg', 'use'],
          properties: {
            kty: string('Key type.'),
            kid: string('Key id, the `kid` of token headers.'),
            alg: string('Algorithm.'),
            use: string('Always sig.', { enum: ['sig'] }),
            crv: string('Curve (OKP, EC).'),
            x: string('Public key (OKP, EC).'),
            y: string('Public key (EC).'),
            n: string('Modulus (RSA).'),
            e: string('Exponent (RSA).'),
          },
        },
      },
    },
  },
  [OAUTH_SCHEMA_NAMES.metadata]: {
    type: 'object',
    required: ['issuer', 'token_endpoint', 'grant_types_supported'],
    description: 'RFC 8414 authorization server metadata.',
    properties: {
      issuer: string('The issuer.'),
      token_endpoint: string('Token endpoint URL.'),
      revocation_endpoint: string('Revocation endpoint URL.'),
      introspection_endpoint: string('Introspection endpoint URL.'),
      authorization_endpoint: string('Authorization endpoint URL; it supports no response type.'),
      jwks_uri: string('JWKS URL; absent with an HS256 secret.'),
      grant_types_supported: { type: 'array', items: { type: 'string' } },
      response_types_supported: { type: 'array', items: { type: 'string' } },
      scopes_supported: { type: 'array', items: { type: 'string' } },
      token_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
      revocation_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
      introspection_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
      access_token_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
    },
  },
  [OAUTH_SCHEMA_NAMES.protectedResource]: {
    type: 'object',
    required: ['resource', 'authorization_servers'],
    description: 'RFC 9728 protected resource metadata.',
    properties: {
      resource: string('The protected resource: the API base URL, or a path under it.'),
      authorization_servers: { type: 'array', items: { type: 'string' } },
      scopes_supported: { type: 'array', items: { type: 'string' } },
      bearer_methods_supported: { type: 'array', items: { type: 'string', enum: ['header'] } },
    },
  },
};
