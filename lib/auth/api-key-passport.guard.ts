import { Injectable, type ExecutionContext } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { API_KEY_STRATEGY } from '../api-key.constants.js';
import { AuthUnavailableError, type KeybridgeError } from '../errors/index.js';
import type { Principal } from '../interfaces/principal.interface.js';
import { VerifiedKey } from '../keys/verified-key.js';
import type { AuthenticatedRequest } from './credential.reader.js';
import { RequestAuthenticator } from './request.authenticator.js';

/**
 * `AuthGuard('api-key')` with the module's behaviour around it (bearer tokens are accepted too): `@Public()`,
 * the query-string refusal, the documented error bodies and headers, `@Scopes()`, origin restrictions, rate
 * limits and quotas. Expects Passport's default `request.user` property. Subclass it and override
 * `getApiKey` (where the key is read from) or `getRejection` (what is thrown for a refusal).
 *
 * @publicApi
 */
@Injectable()
export class ApiKeyPassportGuard extends AuthGuard(API_KEY_STRATEGY) {
  constructor(protected readonly authenticator: RequestAuthenticator) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const requirements = this.authenticator.requirements(context);
    if (requirements.isPublic) return true;
    const exchange = this.authenticator.exchangeOf(context);
    let keyId: string | undefined;
    let bearer: string | undefined;
    let dpop: string | undefined;
    try {
      this.authenticator.refuseQueryKey(exchange.request);
      bearer = this.authenticator.bearerOf(exchange.request);
      if (bearer === undefined) dpop = this.authenticator.dpopTokenOf(exchange.request);
    } catch (error) {
      throw this.getRejection(this.authenticator.reject(error, exchange), context);
    }
    try {
      // Bearer tokens are not a Passport strategy of this module: the authenticator checks them directly.
      if (bearer !== undefined)
        return await this.authenticator.authenticateBearer(bearer, requirements, exchange);
      if (dpop !== undefined) return await this.authenticator.authenticateDpop(dpop, requirements, exchange);
    } catch (refusal) {
      throw this.getRejection(refusal as KeybridgeError, context);
    }
    try {
      this.getApiKey(exchange.request);
      await super.canActivate(context);
      const key = exchange.request.user && VerifiedKey.of(exchange.request.user);
      if (!key) throw new AuthUnavailableError();
      keyId = key.id;
      return await this.authenticator.authorize(key, requirements, exchange);
    } catch (error) {
      throw this.getRejection(this.authenticator.reject(error, exchange, keyId), context);
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

  /**
   * Checks that a key was presented before Passport runs (`MissingCredentialsError` otherwise), so a missing
   * key gets the module's answer rather than Passport's. The strategy reads the configured header.
   */
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
}
