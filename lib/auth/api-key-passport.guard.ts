import { Injectable, type ExecutionContext } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { API_KEY_STRATEGY } from '../api-key.constants.js';
import { AuthUnavailableError } from '../errors.js';
import { VerifiedKey } from '../keys/verified-key.js';
import type { Principal } from '../interfaces/principal.interface.js';
import { RequestAuthenticator } from './request.authenticator.js';

/**
 * `AuthGuard('api-key')` with the module's behaviour around it (bearer tokens are accepted too): `@Public()`, the query-string refusal,
 * the documented error bodies and headers, `@Scopes()`, origin restrictions, rate limits and quotas. Expects
 * Passport's default `request.user` property.
 */
@Injectable()
export class ApiKeyPassportGuard extends AuthGuard(API_KEY_STRATEGY) {
  constructor(private readonly authenticator: RequestAuthenticator) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const requirements = this.authenticator.requirements(context);
    if (requirements.isPublic) return true;
    const exchange = this.authenticator.exchangeOf(context);
    let keyId: string | undefined;
    let bearer: string | undefined;
    try {
      this.authenticator.refuseQueryKey(exchange.request);
      bearer = this.authenticator.bearerOf(exchange.request);
    } catch (error) {
      throw this.authenticator.reject(error, exchange);
    }
    // Bearer tokens are not a Passport strategy of this module: the authenticator checks them directly.
    if (bearer !== undefined) return this.authenticator.authenticateBearer(bearer, requirements, exchange);
    try {
      this.authenticator.apiKeyOf(exchange.request);
      await super.canActivate(context);
      const key = exchange.request.user && VerifiedKey.of(exchange.request.user);
      if (!key) throw new AuthUnavailableError();
      keyId = key.id;
      return await this.authenticator.authorize(key, requirements, exchange);
    } catch (error) {
      throw this.authenticator.reject(error, exchange, keyId);
    }
  }

  override getRequest(context: ExecutionContext): unknown {
    return this.authenticator.exchangeOf(context).request;
  }

  /** Read by `AuthGuard` like `getRequest`, though its interface does not declare it. */
  getResponse(context: ExecutionContext): unknown {
    return this.authenticator.exchangeOf(context).response;
  }

  override handleRequest<TUser = Principal>(error: unknown, user: TUser | false): TUser {
    if (error) throw error;
    if (!user) throw new AuthUnavailableError();
    return user;
  }
}
