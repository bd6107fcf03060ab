import { Inject, Injectable } from '@nestjs/common';
import { INTROSPECTION_SCOPE } from '../api-key.constants.js';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { OAuthError } from '../errors/index.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { looksLikeApiKey } from '../keys/api-key.format.js';
import { AccessTokenService } from '../tokens/access-token.service.js';
import { OAuthClientAuthenticator } from './client.authenticator.js';
import { OAuthLimits } from './oauth.limits.js';
import { ok, OAuthResponder, type OAuthRequest, type OAuthResponse } from './oauth.responder.js';

/** `POST /oauth/introspect` (RFC 7662), for clients holding `tokens:introspect`. */
@Injectable()
export class IntrospectionEndpoint {
  constructor(
    private readonly responder: OAuthResponder,
    private readonly clients: OAuthClientAuthenticator,
    private readonly limits: OAuthLimits,
    private readonly tokens: AccessTokenService,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {}

  handle(request: OAuthRequest): Promise<OAuthResponse> {
    return this.responder.answer(request, async (params, ip) => {
      const client = await this.clients.authenticate(
        this.clients.requireClient(this.clients.presented(request, params)),
        request,
        ip,
      );
      await this.limits.spend(client, ip);
      if (!client.scopes.grants(INTROSPECTION_SCOPE)) {
        throw new OAuthError(
          'insufficient_scope',
          `Introspection needs the scope ${INTROSPECTION_SCOPE}.`,
          403,
        );
      }
      const token = params.require('token');
      const verified = looksLikeApiKey(token, this.options.prefixes)
        ? undefined
        : await this.tokens.inspect(token);
      if (!verified) return ok({ active: false });
      // RFC 9449 §6.2: a bound token is introspected as a DPoP token, its `cnf` among the claims.
      return ok({ active: true, token_type: verified.jkt ? 'DPoP' : 'Bearer', ...verified.claims });
    });
  }
}
