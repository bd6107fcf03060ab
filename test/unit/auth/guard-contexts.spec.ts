import 'reflect-metadata';
import { Controller, Get } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { RequestAuthenticator } from '../../../lib/auth/request.authenticator.js';
import { Public } from '../../../lib/auth/public.decorator.js';
import { resolveOptions } from '../../../lib/options/options.resolver.js';
import { MissingCredentialsError } from '../../../lib/errors/index.js';
import type { ApiKeyVerifier } from '../../../lib/keys/api-key.verifier.js';
import type { ClientAddressResolver } from '../../../lib/auth/client-address.resolver.js';
import type { KeybridgeEventEmitter } from '../../../lib/events/event.emitter.js';
import type { KeyLimitsService } from '../../../lib/limits/key-limits.service.js';
import type { AccessTokenService } from '../../../lib/tokens/access-token.service.js';

@Controller()
class Handlers {
  @Get() guarded(): void {}
  @Get() @Public() open(): void {}
}

function context(type: string, args: unknown[], handler: keyof Handlers): ExecutionContextHost {
  const host = new ExecutionContextHost(args, Handlers, Handlers.prototype[handler]);
  host.setType(type);
  return host;
}

/** Which requests a guard can see: HTTP and GraphQL carry headers; other transports are refused. */
describe('RequestAuthenticator.exchangeOf', () => {
  // Only the parts these methods touch; the services are never called here.
  const authenticator = new RequestAuthenticator(
    new Reflector(),
    {} as ApiKeyVerifier,
    {} as KeyLimitsService,
    {} as AccessTokenService,
    {} as ClientAddressResolver,
    {} as KeybridgeEventEmitter,
    resolveOptions({}),
  );

  it('reads the request and response of an HTTP context', () => {
    const request = { headers: { 'x-api-key': 'k' } };
    const response = {};
    const http = context('http', [request, response, () => undefined], 'guarded');
    expect(authenticator.exchangeOf(http)).toEqual({ request, response, context: http });
  });

  it("reads the request of a GraphQL operation from its context's req", () => {
    const req = { headers: {} };
    const res = {};
    const exchange = authenticator.exchangeOf(context('graphql', [{}, {}, { req, res }, {}], 'guarded'));
    expect(exchange.request).toBe(req);
    expect(exchange.response).toBe(res);
  });

  it.each(['rpc', 'ws', 'graphql'])('refuses a %s context without an HTTP request', (type) => {
    expect(() => authenticator.exchangeOf(context(type, [{}, {}, {}], 'guarded'))).toThrow(
      MissingCredentialsError,
    );
  });

  it('still knows which handlers are public, whatever the transport', () => {
    expect(authenticator.requirements(context('rpc', [], 'open')).isPublic).toBe(true);
    expect(authenticator.requirements(context('rpc', [], 'guarded')).isPublic).toBe(false);
  });
});
