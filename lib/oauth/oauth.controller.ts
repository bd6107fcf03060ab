import { Controller, Get, Inject, Post, Req, Res, UseFilters, type Type } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { OAuthRoutes } from '../interfaces/api-key-options.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { Public } from '../auth/public.decorator.js';
import { AuthorizationServerMetadata } from './authorization-server.metadata.js';
import { OAuthExceptionFilter } from './oauth-exception.filter.js';
import { replyOAuth } from './oauth.reply.js';
import { OAuthService, type OAuthRequest, type OAuthResponse } from './oauth.service.js';

/**
 * The controller of the OAuth endpoints, built for the configured paths. Its routes are `@Public()`: each
 * endpoint authenticates its client itself. Answers are written straight to the response, so the app's
 * exception filters and interceptors cannot change what RFC 6749 prescribes; what an app-wide guard throws
 * before a handler runs is rendered the same way by `OAuthExceptionFilter`.
 */
export function createOAuthController(routes: OAuthRoutes): Type<unknown> {
  @Public()
  @Controller()
  @UseFilters(OAuthExceptionFilter)
  class KeybridgeOAuthController {
    constructor(
      private readonly oauth: OAuthService,
      private readonly metadata: AuthorizationServerMetadata,
      private readonly adapterHost: HttpAdapterHost,
      @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    ) {}

    @Post(routes.token)
    async token(@Req() request: OAuthRequest, @Res() response: unknown): Promise<void> {
      this.send(response, await this.oauth.token(request));
    }

    @Post(routes.revocation)
    async revoke(@Req() request: OAuthRequest, @Res() response: unknown): Promise<void> {
      this.send(response, await this.oauth.revoke(request));
    }

    @Post(routes.introspection)
    async introspect(@Req() request: OAuthRequest, @Res() response: unknown): Promise<void> {
      this.send(response, await this.oauth.introspect(request));
    }

    @Get(routes.jwks)
    jwks(@Res() response: unknown): void {
      this.send(response, {
        status: 200,
        body: this.options.tokens.keys.jwks(),
        headers: { 'Cache-Control': 'public, max-age=300' },
      });
    }

    @Get(routes.metadata)
    serverMetadata(@Res() response: unknown): void {
      this.send(response, {
        status: 200,
        body: this.metadata.get(),
        headers: { 'Cache-Control': 'public, max-age=300' },
      });
    }

    private send(response: unknown, answer: OAuthResponse): void {
      replyOAuth(this.adapterHost, response, answer);
    }
  }
  return KeybridgeOAuthController;
}
