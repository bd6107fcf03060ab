import {
  Controller,
  Get,
  Inject,
  Post,
  Req,
  Res,
  UseFilters,
  type OnModuleInit,
  type Type,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { OAuthRoutes } from '../interfaces/api-key-options.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { Public } from '../auth/public.decorator.js';
import { isUnreadableRequest } from '../common/malformed-body.filter.js';
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
  class KeybridgeOAuthController implements OnModuleInit {
    constructor(
      private readonly oauth: OAuthService,
      private readonly metadata: AuthorizationServerMetadata,
      private readonly adapterHost: HttpAdapterHost,
      @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    ) {}

    /**
     * Express parses bodies before routing, and body-parser's error quotes the malformed body, perhaps a
     * key. The OAuth endpoints answer it themselves, in their own format: this error handler is mounted
     * after the routes and before Nest's own (module init runs in between).
     */
    onModuleInit(): void {
      const adapter = this.adapterHost.httpAdapter;
      if (adapter?.getType() !== 'express') return;
      const paths = [routes.token, routes.revocation, routes.introspection].map(
        (path) => `/${path.replace(/^\/+/, '')}`,
      );
      adapter.use(
        (error: unknown, request: { path: string }, response: unknown, next: (error: unknown) => void) => {
          if (!isUnreadableRequest(error) || !paths.some((path) => request.path.endsWith(path))) {
            next(error);
            return;
          }
          this.send(response, {
            status: 400,
            body: { error: 'invalid_request', error_description: 'The request body could not be parsed.' },
            headers: {},
          });
        },
      );
    }

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
