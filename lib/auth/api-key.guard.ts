import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiKeyService } from '../keys/api-key.service.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import {
  RequestAuthenticator,
  type AuthenticatedRequest,
  type GuardedExchange,
  type RouteRequirements,
} from './request.authenticator.js';

/**
 * The module's guard: authenticates the `X-API-Key` header or an `Authorization: Bearer` token from the token
 * endpoint, then applies `@Scopes()` (the same for both) and, for keys, origin restrictions, rate limits and
 * quotas. Use it per route (`@UseGuards(ApiKeyGuard)`) or for every route with the
 * `globalGuard` option. It does the work of Passport's `AuthGuard('api-key')` without its per-request
 * middleware, and answers from the verified-key cache without a database read.
 *
 * HTTP requests and GraphQL operations (through the request in their context) are checked; on other
 * transports only `@Public()` handlers are let through. Subclass it to change how the key is read.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    protected readonly keys: ApiKeyService,
    protected readonly authenticator: RequestAuthenticator,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const requirements = this.authenticator.requirements(context);
    if (requirements.isPublic) return true;
    const exchange = this.authenticator.exchangeOf(context);
    let key: VerifiedKey | Promise<VerifiedKey>;
    let bearer: string | undefined;
    try {
      this.authenticator.refuseQueryKey(exchange.request);
      bearer = this.authenticator.bearerOf(exchange.request);
      if (bearer === undefined) {
        key = this.keys.authenticate(
          this.getApiKey(exchange.request),
          this.authenticator.throttleFor(exchange.request),
        );
      }
    } catch (error) {
      throw this.authenticator.reject(error, exchange);
    }
    if (bearer !== undefined) return this.authenticator.authenticateBearer(bearer, requirements, exchange);
    key = key!;
    if (key instanceof Promise) {
      return key.then(
        (verified) => this.authorize(verified, requirements, exchange),
        (error: unknown) => Promise.reject(this.authenticator.reject(error, exchange)),
      );
    }
    return this.authorize(key, requirements, exchange);
  }

  /** The presented key; throws `MissingCredentialsError` when there is none. */
  protected getApiKey(request: AuthenticatedRequest): string {
    return this.authenticator.apiKeyOf(request);
  }

  private authorize(
    key: VerifiedKey,
    requirements: RouteRequirements,
    exchange: GuardedExchange,
  ): boolean | Promise<boolean> {
    try {
      const result = this.authenticator.authorize(key, requirements, exchange);
      if (result === true) return true;
      return result.catch((error: unknown) =>
        Promise.reject(this.authenticator.reject(error, exchange, key.id)),
      );
    } catch (error) {
      throw this.authenticator.reject(error, exchange, key.id);
    }
  }
}
