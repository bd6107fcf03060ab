import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { API_KEY_REPOSITORY, RESOLVED_OPTIONS } from './api-key.internal-constants.js';
import {
  API_KEY_ASYNC_OPTIONS_TYPE,
  API_KEY_MODULE_OPTIONS,
  API_KEY_OPTIONS_TYPE,
  ConfigurableApiKeyModule,
} from './api-key.module-definition.js';
import { resolveOptions, type ApiKeyModuleOptions } from './api-key.options.js';
import { ApiKeyPassportGuard } from './auth/api-key-passport.guard.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { ApiKeyStrategy } from './auth/api-key.strategy.js';
import { RequestAuthenticator } from './auth/request.authenticator.js';
import { ApiKeyEntity } from './keys/api-key.entity.js';
import { ApiKeyService } from './keys/api-key.service.js';
import { KeyLimitsService } from './limits/key-limits.service.js';

/** The entities the module stores, for apps that list entities by hand instead of `autoLoadEntities`. */
export const KEYBRIDGE_ENTITIES = [ApiKeyEntity] as const;

const EXPORTED = [ApiKeyService, ApiKeyGuard, ApiKeyPassportGuard, RequestAuthenticator, KeyLimitsService];

/**
 * API keys for a NestJS app: `ApiKeyModule.forRoot({ pepper, globalGuard: true })`, or `forRootAsync()` with
 * `useFactory` / `useClass` / `useExisting`. Needs a TypeORM data source holding the tables of
 * `KEYBRIDGE_MIGRATIONS`.
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
    extras: { globalGuard?: boolean; dataSource?: string },
  ): DynamicModule {
    const providers: Provider[] = [
      ...(definition.providers ?? []),
      {
        provide: RESOLVED_OPTIONS,
        useFactory: (options: ApiKeyModuleOptions) => resolveOptions(options),
        inject: [API_KEY_MODULE_OPTIONS],
      },
      {
        provide: API_KEY_REPOSITORY,
        useFactory: (dataSource: DataSource) => dataSource.getRepository(ApiKeyEntity),
        inject: [getDataSourceToken(extras.dataSource)],
      },
      ApiKeyService,
      KeyLimitsService,
      RequestAuthenticator,
      ApiKeyGuard,
      ApiKeyPassportGuard,
      ApiKeyStrategy,
    ];
    if (extras.globalGuard) providers.push({ provide: APP_GUARD, useExisting: ApiKeyGuard });
    return {
      ...definition,
      imports: [
        ...(definition.imports ?? []),
        TypeOrmModule.forFeature([...KEYBRIDGE_ENTITIES], extras.dataSource),
      ],
      providers,
      exports: [...(definition.exports ?? []), ...EXPORTED],
    };
  }
}
