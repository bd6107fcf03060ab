import { Injectable } from '@nestjs/common';
import { IntrospectionEndpoint } from './introspection.endpoint.js';
import type { OAuthRequest, OAuthResponse } from './oauth.responder.js';
import { RevocationEndpoint } from './revocation.endpoint.js';
import { TokenEndpoint } from './token.endpoint.js';

export {
  ACCESS_TOKEN_TOKEN_TYPE,
  API_KEY_TOKEN_TYPE,
  GRANT_CLIENT_CREDENTIALS,
  GRANT_TOKEN_EXCHANGE,
} from './oauth.constants.js';
export type { OAuthRequest, OAuthResponse } from './oauth.responder.js';

/**
 * The token, revocation and introspection endpoints (RFC 6749 §4.4, RFC 8693, RFC 7009, RFC 7662), for apps
 * that mount them on routes of their own (`oauth: false` and a controller that calls these). Every failure
 * is answered as RFC 6749 §5.2 says; nothing else escapes.
 *
 * @publicApi
 */
@Injectable()
export class OAuthService {
  constructor(
    private readonly tokenEndpoint: TokenEndpoint,
    private readonly revocationEndpoint: RevocationEndpoint,
    private readonly introspectionEndpoint: IntrospectionEndpoint,
  ) {}

  /** `POST /oauth/token`. */
  token(request: OAuthRequest): Promise<OAuthResponse> {
    return this.tokenEndpoint.handle(request);
  }

  /** `POST /oauth/revoke`: an access token (its client must authenticate) or an API key (it proves itself). */
  revoke(request: OAuthRequest): Promise<OAuthResponse> {
    return this.revocationEndpoint.handle(request);
  }

  /** `POST /oauth/introspect`, for clients holding `tokens:introspect`. */
  introspect(request: OAuthRequest): Promise<OAuthResponse> {
    return this.introspectionEndpoint.handle(request);
  }
}
