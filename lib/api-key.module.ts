import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DEFAULT_OAUTH_ROUTES } from './api-key.constants.js';
import {
  API_KEY_ASYNC_OPTIONS_TYPE,
  API_KEY_OPTIONS_TYPE,
  ConfigurableApiKeyModule,
} from './api-key.module-definition.js';
import { createApiKeyProviders } from './api-key.providers.js';
import { ApiKeyPassportGuard } from './auth/api-key-passport.guard.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { ClientAddressResolver } from './auth/client-address.resolver.js';
import { RequestAuthenticator } from './auth/request.authenticator.js';
import { DenylistEntryEntity } from './denylist/denylist-entry.entity.js';
import { TokenDenylist } from './denylist/token.denylist.js';
import type { ApiKeyModuleExtras } from './interfaces/api-key-options.interface.js';
import { KeybridgeHealthProbe } from './health/keybridge.health-probe.js';
import { DenylistStore } from './interfaces/denylist-store.interface.js';
import { ApiKeyEntity } from './keys/api-key.entity.js';
import { ApiKeyService } from './keys/api-key.service.js';
import { SubjectLimitsEntity } from './keys/subject-limits.entity.js';
import { SubjectLimitsService } from './keys/subject-limits.service.js';
import { KeyLimitsService } from './limits/key-limits.service.js';
import { OAuthService } from './oauth/oauth.service.js';
import { OAUTH_PROVIDERS, oauthControllers } from './oauth/oauth.providers.js';
import { ReplayEntryEntity } from './replay/replay-entry.entity.js';
import { AccessTokenService } from './tokens/access-token.service.js';

/** The entities the module stores, for apps that list entities by hand instead of `autoLoadEntities`. */
export const KEYBRIDGE_ENTITIES = [
  ApiKeyEntity,
  DenylistEntryEntity,
  ReplayEntryEntity,
  SubjectLimitsEntity,
] as const;

const EXPORTED = [
  ApiKeyService,
  SubjectLimitsService,
  ApiKeyGuard,
  ApiKeyPassportGuard,
  RequestAuthenticator,
  KeyLimitsService,
  AccessTokenService,
  TokenDenylist,
  OAuthService,
  ClientAddressResolver,
  DenylistStore,
  KeybridgeHealthProbe,
];

/**
 * API keys for a NestJS app, and the OAuth 2.0 bridge that trades them for short-lived tokens:
 * `ApiKeyModule.forRoot({ pepper, globalGuard: true })`, or `forRootAsync()` with `useFactory` / `useClass` /
 * `useExisting`. Needs a TypeORM data source holding the tables of `KEYBRIDGE_MIGRATIONS`.
 *
 * @publicApi
 */
@Module({})
export class ApiKeyModule extends ConfigurableApiKeyModule {
  static override forRoot(options: typeof API_KEY_OPTIONS_TYPE = {}): DynamicModule {
    return this.complete(super.forRoot(options), options);
  }

  static override forRootAsync(options: typeof API_KEY_ASYNC_OPTIONS_TYPE): DynamicModule {
    return this.complete(super.forRootAsync(options), options);
  }

  private static complete(
    definition: DynamicModule,
    extras: Pick<ApiKeyModuleExtras, 'globalGuard' | 'dataSource' | 'oauth'>,
  ): DynamicModule {
    return {
      ...definition,
      imports: [
        ...(definition.imports ?? []),
        DiscoveryModule,
        TypeOrmModule.forFeature([...KEYBRIDGE_ENTITIES], extras.dataSource),
      ],
      controllers: oauthControllers(
        extras.oauth === false ? false : { ...DEFAULT_OAUTH_ROUTES, ...extras.oauth },
      ),
      providers: [
        ...(definition.providers ?? []),
        ...createApiKeyProviders(extras),
        ...OAUTH_PROVIDERS,
        ...(extras.globalGuard ? [{ provide: APP_GUARD, useExisting: ApiKeyGuard }] : []),
      ],
      exports: [...(definition.exports ?? []), ...EXPORTED],
    };
  }
}
