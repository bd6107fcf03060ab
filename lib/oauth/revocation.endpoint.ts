import { Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { OAuthError } from '../errors/index.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { looksLikeApiKey } from '../keys/api-key.format.js';
import { ApiKeyService } from '../keys/api-key.service.js';
import { AccessTokenService } from '../tokens/access-token.service.js';
import { OAuthClientAuthenticator } from './client.authenticator.js';
import { ok, OAuthResponder, type OAuthRequest, type OAuthResponse } from './oauth.responder.js';

/**
 * `POST /oauth/revoke` (RFC 7009): an access token (its client must authenticate) or an API key (it proves
 * itself). Revoking only takes access away: it costs no unit of the client's rate limit or quota, so a key
 * whose quota a thief used up can still revoke its tokens.
 */
@Injectable()
export class RevocationEndpoint {
  constructor(
    private readonly responder: OAuthResponder,
    private readonly clients: OAuthClientAuthenticator,
    private readonly keys: ApiKeyService,
    private readonly tokens: AccessTokenService,
    private readonly events: KeybridgeEventEmitter,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {}

  handle(request: OAuthRequest): Promise<OAuthResponse> {
    return this.responder.answer(request, async (params, ip) => {
      const token = params.require('token');
      const presented = this.clients.presented(request, params);
      if (looksLikeApiKey(token, this.options.prefixes)) {
        const client = presented ? await this.clients.authenticate(presented, request, ip) : undefined;
        const key = await this.clients.keyIfValid(token);
        if (key && (!client || client.id === key.id))
          await this.keys.revoke(key.id, 'revoked through the revocation endpoint', { ip, actor: key.id });
        else if (key && client)
          throw new OAuthError('unauthorized_client', 'That API key belongs to another client.');
        return ok({});
      }
      const client = await this.clients.authenticate(this.clients.requireClient(presented), request, ip);
      const verified = await this.tokens.inspect(token);
      if (verified) {
        if (verified.keyId !== client.id) {
          throw new OAuthError('unauthorized_client', 'The token was not issued to this client.');
        }
        await this.tokens.revoke(verified);
        this.events.emit({
          type: 'token.revoked',
          keyId: client.id,
          tokenId: verified.jti,
          ip,
          at: new Date(this.options.clock()),
        });
      }
      return ok({});
    });
  }
}
