import type { Provider, Type } from '@nestjs/common';
import type { OAuthRoutes } from '../interfaces/api-key-options.interface.js';
import { AuthorizationServerMetadata } from './authorization-server.metadata.js';
import { ClientAssertionVerifier } from './client-assertion.verifier.js';
import { OAuthClientAuthenticator } from './client.authenticator.js';
import { IntrospectionEndpoint } from './introspection.endpoint.js';
import { createOAuthController } from './oauth.controller.js';
import { OAuthLimits } from './oauth.limits.js';
import { OAuthResponder } from './oauth.responder.js';
import { OAuthService } from './oauth.service.js';
import { ProtectedResourceMetadata } from './protected-resource.metadata.js';
import { RevocationEndpoint } from './revocation.endpoint.js';
import { TokenEndpoint } from './token.endpoint.js';
import { TokenDpopBinding } from './token-dpop.binding.js';

/** The authorization server's collaborators: one per endpoint, and what they share. */
export const OAUTH_PROVIDERS: Provider[] = [
  OAuthResponder,
  OAuthClientAuthenticator,
  ClientAssertionVerifier,
  OAuthLimits,
  TokenDpopBinding,
  TokenEndpoint,
  RevocationEndpoint,
  IntrospectionEndpoint,
  OAuthService,
  AuthorizationServerMetadata,
  ProtectedResourceMetadata,
];

/** The controller of the OAuth endpoints at the configured paths, or none with `oauth: false`. */
export function oauthControllers(routes: OAuthRoutes | false): Type<unknown>[] {
  return routes === false ? [] : [createOAuthController(routes)];
}
