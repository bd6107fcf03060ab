import {
  Controller,
  Get,
  Inject,
  Post,
  Req,
  Res,
  SetMetadata,
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
import { ProtectedResourceMetadata } from './protected-resource.metadata.js';
import { MAX_RESOURCE_SEGMENTS } from '../common/resource-path.util.js';

const CACHEABLE = { 'Cache-Control': 'public, max-age=300' };

/**
 * `route/:s1`, `route/:s1/:s2`, …: Express 5 and Fastify name wildcards in incompatible ways, and both
 * route named segments alike.
 */
function suffixedPaths(route: string): string[] {
  const segments = Array.from({ length: MAX_RESOURCE_SEGMENTS }, (_, i) => `:s${i + 1}`);
  return segments.map((_, depth) => `${route}/${segments.slice(0, depth + 1).join('/')}`);
}

/**
 * RFC 6749 §4.1.2.1: no response type is supported. With no registered redirect URI to send the error to,
 * it is never redirected (§3.1.2.4): it is answered here, and nothing of the request is quoted back.
 */
const UNSUPPORTED_RESPONSE_TYPE: OAuthResponse = {
  status: 400,
  body: {
    error: 'unsupported_response_type',
    error_description:
      'This authorization server issues tokens only at its token endpoint (client credentials or token exchange).',
  },
  headers: {},
};

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
      private readonly resourceMetadata: ProtectedResourceMetadata,
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
      const paths = [routes.token, routes.revocation, routes.introspection, routes.authorization].map(
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
        headers: CACHEABLE,
      });
    }

    @Get(routes.metadata)
    serverMetadata(@Res() response: unknown): void {
      this.send(response, {
        status: 200,
        body: this.metadata.get(),
        headers: CACHEABLE,
      });
    }

    @Get(routes.protectedResource)
    protectedResource(@Res() response: unknown): void {
      this.send(response, { status: 200, body: this.resourceMetadata.get()!, headers: CACHEABLE });
    }

    /** The path-suffixed form (RFC 9728 §3.1): the metadata of the resource at the path that follows. */
    @Get(suffixedPaths(routes.protectedResource))
    // @nestjs/swagger's @ApiExcludeEndpoint() without importing the optional peer: OpenAPI cannot say "any
    // path below"; the metadata operation's own description names this form.
    @SetMetadata('swagger/apiExcludeEndpoint', { disable: true })
    protectedResourceAt(@Req() request: OAuthRequest, @Res() response: unknown): void {
      const url = request.originalUrl ?? request.url ?? '';
      const path = url.split('?')[0];
      const at = path.indexOf(routes.protectedResource);
      const document =
        at === -1 ? undefined : this.resourceMetadata.get(path.slice(at + routes.protectedResource.length));
      this.send(
        response,
        document
          ? { status: 200, body: document, headers: CACHEABLE }
          : {
              status: 404,
              body: { error: 'not_found', error_description: 'No protected resource at this path.' },
              headers: {},
            },
      );
    }

    /** RFC 6749 §3.1: GET, and POST too. */
    @Get(routes.authorization)
    authorize(@Res() response: unknown): void {
      this.send(response, UNSUPPORTED_RESPONSE_TYPE);
    }

    @Post(routes.authorization)
    authorizeByPost(@Res() response: unknown): void {
      this.send(response, UNSUPPORTED_RESPONSE_TYPE);
    }

    private send(response: unknown, answer: OAuthResponse): void {
      replyOAuth(this.adapterHost, response, answer);
    }
  }
  return KeybridgeOAuthController;
}
