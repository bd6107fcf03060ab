import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { HeaderAPIKeyStrategy } from 'passport-headerapikey';
import { API_KEY_STRATEGY } from '../api-key.constants.js';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ApiKeyVerifier } from '../keys/api-key.verifier.js';
import type { Principal } from '../interfaces/principal.interface.js';

/**
 * The Passport strategy `'api-key'`, for apps that compose `AuthGuard('api-key')` with other strategies.
 * `ApiKeyPassportGuard` wraps it with the module's error answers, scopes and limits; `ApiKeyGuard` does the
 * same work faster, without Passport's per-request machinery.
 *
 * @publicApi
 */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(HeaderAPIKeyStrategy, API_KEY_STRATEGY) {
  constructor(
    private readonly keys: ApiKeyVerifier,
    @Inject(RESOLVED_OPTIONS) options: ResolvedApiKeyOptions,
  ) {
    // An empty prefix: passport-headerapikey builds an unescaped RegExp from it. No request in the callback:
    // passReqToCallback does not survive the PassportStrategy mixin.
    super({ header: options.header, prefix: '' }, false);
  }

  async validate(apiKey: string): Promise<Principal> {
    const key = await this.keys.authenticate(apiKey);
    return key.principal;
  }
}
