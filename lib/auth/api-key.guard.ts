import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { KeybridgeError } from '../errors/index.js';
import { ApiKeyService } from '../keys/api-key.service.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import type { AuthenticatedRequest, GuardedExchange } from './credential.reader.js';
import { RequestAuthenticator } from './request.authenticator.js';
import type { RouteRequirements } from './route.requirements.js';

/**
 * The module's guard: authenticates the `X-API-Key` header or an `Authorization: Bearer` (or DPoP-bound
 * `Authorization: DPoP`) token from the token endpoint, then applies `@Scopes()` (the same for both) and, for keys, origin restrictions, rate limits and
 * quotas. Use it per route (`@UseGuards(ApiKeyGuard)`) or for every route with the
 * `globalGuard` option. It does the work of Passport's `AuthGuard('api-key')` without its per-request
 * middleware, and answers from the verified-key cache without a database read.
 *
 * HTTP requests and GraphQL operations (through the request in their context) are checked; on other
 * transports only `@Public()` handlers are let through. Subclass it and override `getApiKey` (where the key
 * is read from) or `getRejection` (what is thrown for a refusal).
 *
 * @publicApi
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    /** For subclasses that look keys up themselves. */
    protected readonly keys: ApiKeyService,
    protected readonly authenticator: RequestAuthenticator,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const requirements = this.authenticator.requirements(context);
    if (requirements.isPublic) return true;
    const exchange = this.authenticator.exchangeOf(context);
    let key: VerifiedKey | Promise<VerifiedKey>;
    let bearer: string | undefined;
    let dpop: string | undefined;
    let now = 0;
    try {
      this.authenticator.refuseQueryKey(exchange.request);
      bearer = this.authenticator.bearerOf(exchange.request);
      if (bearer === undefined) dpop = this.authenticator.dpopTokenOf(exchange.request);
      if (bearer === undefined && dpop === undefined) {
        const presented = this.getApiKey(exchange.request);
        now = this.authenticator.now();
        key = this.authenticator.authenticateKey(presented, exchange.request, now, exchange.response);
      }
    } catch (error) {
      throw this.refuse(error, exchange, undefined, context);
    }
    if (bearer !== undefined) return this.authenticateBearer(bearer, requirements, exchange, context);
    if (dpop !== undefined) {
      return this.authenticator
        .authenticateDpop(dpop, requirements, exchange)
        .catch((refusal: unknown) => Promise.reject(this.getRejection(refusal as KeybridgeError, context)));
    }
    key = key!;
    if (key instanceof Promise) {
      return key.then(
        (verified) => this.authorize(verified, requirements, exchange, context),
        (error: unknown) => Promise.reject(this.refuse(error, exchange, undefined, context)),
      );
    }
    return this.authorize(key, requirements, exchange, context, now);
  }

  /** The presented key; throws `MissingCredentialsError` when there is none. Override to read it elsewhere. */
  protected getApiKey(request: AuthenticatedRequest): string {
    return this.authenticator.apiKeyOf(request);
  }

  /**
   * What the guard throws for a refusal, once its headers are set and its audit event emitted. The default
   * throws the refusal itself, which Nest renders as `{ statusCode, error, message, code }`.
   */
  protected getRejection(refusal: KeybridgeError, _context: ExecutionContext): unknown {
    return refusal;
  }

  private authenticateBearer(
    bearer: string,
    requirements: RouteRequirements,
    exchange: GuardedExchange,
    context: ExecutionContext,
  ): boolean | Promise<boolean> {
    let result: true | Promise<true>;
    try {
      result = this.authenticator.authenticateBearer(bearer, requirements, exchange);
    } catch (refusal) {
      throw this.getRejection(refusal as KeybridgeError, context);
    }
    if (result === true) return true;
    return result.catch((refusal: unknown) =>
      Promise.reject(this.getRejection(refusal as KeybridgeError, context)),
    );
  }

  private authorize(
    key: VerifiedKey,
    requirements: RouteRequirements,
    exchange: GuardedExchange,
    context: ExecutionContext,
    now?: number,
  ): boolean | Promise<boolean> {
    try {
      const result = this.authenticator.authorize(key, requirements, exchange, undefined, now);
      if (result === true) return true;
      return result.catch((error: unknown) => Promise.reject(this.refuse(error, exchange, key.id, context)));
    } catch (error) {
      throw this.refuse(error, exchange, key.id, context);
    }
  }

  private refuse(
    error: unknown,
    exchange: GuardedExchange,
    keyId: string | undefined,
    context: ExecutionContext,
  ): unknown {
    return this.getRejection(this.authenticator.reject(error, exchange, keyId), context);
  }
}
