import { Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ASSERTION_SIGNING_ALGORITHMS } from './client-assertion.verifier.js';
import { GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE } from './oauth.constants.js';
import { ScopeCatalog } from '../scopes/scope.catalog.js';
import { DPOP_ALGORITHMS } from '../dpop/dpop-proof.keys.js';

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

/** RFC 8414 authorization-server metadata, built from the options and the app's `@Scopes()`. */
@Injectable()
export class AuthorizationServerMetadata {
  private document: Record<string, unknown> | undefined;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    private readonly scopes: ScopeCatalog,
  ) {}

  get(): Record<string, unknown> {
    if (!this.document) {
      const { issuer, keys } = this.options.tokens;
      const { routes } = this.options;
      const url = (path: string) => `${issuer}${path}`;
      const hasPublicKeys = keys.jwks().keys.length > 0;
      this.document = {
        issuer,
        // RFC 8414 §2 lets a server without authorization-endpoint grants leave it out, but common clients
        // (the MCP SDK among them) refuse metadata without one: it is served, and supports no response type.
        authorization_endpoint: url(routes.authorization),
        token_endpoint: url(routes.token),
        revocation_endpoint: url(routes.revocation),
        introspection_endpoint: url(routes.introspection),
        ...(hasPublicKeys ? { jwks_uri: url(routes.jwks) } : {}),
        grant_types_supported: [GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE],
        // The authorization endpoint answers every request with unsupported_response_type.
        response_types_supported: [],
        scopes_supported: this.scopes.all(),
        token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGORITHMS],
        revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGORITHMS],
        introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGORITHMS],
        // RFC 9068 tokens, signed with the configured algorithms.
        access_token_signing_alg_values_supported: [...keys.algorithms],
        // RFC 9449 §5.1: proofs at the token endpoint bind tokens to the client's key.
        dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
      };
    }
    return this.document;
  }
}
