import { Injectable, type ExecutionContext } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { API_KEY_STRATEGY } from '../api-key.constants.js';
import { AuthUnavailableError } from '../errors.js';
import { VerifiedKey } from '../keys/verified-key.js';
import type { Principal } from './principal.interface.js';
import { RequestAuthenticator, type AuthenticatedRequest } from './request.authenticator.js';

/**
 * `AuthGuard('api-key')` with the module's behaviour around it: `@Public()`, the query-string refusal,
 * the SPEC error bodies and headers, `@Scopes()`, origin restrictions, rate limits and quotas.
 */
@Injectable()
export class ApiKeyPassportGuard extends AuthGuard(API_KEY_STRATEGY) {
  constructor(private readonly authenticator: RequestAuthenticator) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const requirements = this.authenticator.requirements(context);
    if (requirements.isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const response = context.switchToHttp().getResponse<unknown>();
    let keyId: string | undefined;
    try {
      this.authenticator.refuseQueryKey(request);
      this.authenticator.apiKeyOf(request);
      await super.canActivate(context);
      const key = request.user && VerifiedKey.of(request.user);
      if (!key) throw new AuthUnavailableError();
      keyId = key.id;
      return await this.authenticator.authorize(key, requirements, request, response);
    } catch (error) {
      throw this.authenticator.reject(error, request, response, keyId);
    }
  }

  override handleRequest<TUser = Principal>(error: unknown, user: TUser | false): TUser {
    if (error) throw error;
    if (!user) throw new AuthUnavailableError();
    return user;
  }
}
