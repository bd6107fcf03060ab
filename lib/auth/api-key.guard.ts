import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiKeyService } from '../keys/api-key.service.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import {
  RequestAuthenticator,
  type AuthenticatedRequest,
  type RouteRequirements,
} from './request.authenticator.js';

/**
 * The module's guard: authenticates the `X-API-Key` header, then applies `@Scopes()`, origin restrictions,
 * rate limits and quotas. Use it per route (`@UseGuards(ApiKeyGuard)`) or for every route with the
 * `globalGuard` option. It does the work of Passport's `AuthGuard('api-key')` without its per-request
 * middleware, and answers from the verified-key cache without a database read.
 *
 * Only HTTP requests are checked; other transports (microservices, websockets) pass through.
 * Subclass it to change how the request or the key is read.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    protected readonly keys: ApiKeyService,
    protected readonly authenticator: RequestAuthenticator,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const requirements = this.authenticator.requirements(context);
    if (requirements.isPublic) return true;
    const request = this.getRequest(context);
    const response = context.switchToHttp().getResponse<unknown>();
    try {
      this.authenticator.refuseQueryKey(request);
      const key = this.keys.authenticate(this.getApiKey(request));
      if (key instanceof Promise) {
        return key.then(
          (verified) => this.authorize(verified, requirements, request, response),
          (error: unknown) => Promise.reject(this.authenticator.reject(error, request, response)),
        );
      }
      return this.authorize(key, requirements, request, response);
    } catch (error) {
      throw this.authenticator.reject(error, request, response);
    }
  }

  protected getRequest(context: ExecutionContext): AuthenticatedRequest {
    return context.switchToHttp().getRequest<AuthenticatedRequest>();
  }

  /** The presented key; throws `MissingCredentialsError` when there is none. */
  protected getApiKey(request: AuthenticatedRequest): string {
    return this.authenticator.apiKeyOf(request);
  }

  private authorize(
    key: VerifiedKey,
    requirements: RouteRequirements,
    request: AuthenticatedRequest,
    response: unknown,
  ): boolean | Promise<boolean> {
    try {
      const result = this.authenticator.authorize(key, requirements, request, response);
      if (result === true) return true;
      return result.catch((error: unknown) =>
        Promise.reject(this.authenticator.reject(error, request, response, key.id)),
      );
    } catch (error) {
      throw this.authenticator.reject(error, request, response, key.id);
    }
  }
}
