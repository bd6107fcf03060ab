import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  API_KEY_REPOSITORY,
  DENYLIST_STORE,
  REDIS_CONNECTION,
  RESOLVED_OPTIONS,
} from './api-key.internal-constants.js';
import {
  API_KEY_ASYNC_OPTIONS_TYPE,
  API_KEY_MODULE_OPTIONS,
  API_KEY_OPTIONS_TYPE,
  ConfigurableApiKeyModule,
} from './api-key.module-definition.js';
import { DEFAULT_OAUTH_ROUTES } from './api-key.constants.js';
import { resolveOptions } from './options/options.resolver.js';
import type { ApiKeyModuleExtras, ApiKeyModuleOptions } from './interfaces/api-key-options.interface.js';
import type { ResolvedApiKeyOptions } from './interfaces/resolved-options.interface.js';
import { ApiKeyPassportGuard } from './auth/api-key-passport.guard.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { ApiKeyStrategy } from './auth/api-key.strategy.js';
import { RequestAuthenticator } from './auth/request.authenticator.js';
import { DatabaseDenylistStore } from './denylist/database-denylist.store.js';
import { DenylistEntryEntity } from './denylist/denylist-entry.entity.js';
import type { DenylistStore } from './interfaces/denylist-store.interface.js';
import { MemoryDenylistStore } from './denylist/memory-denylist.store.js';
import { RedisDenylistStore } from './denylist/redis-denylist.store.js';
import { TokenDenylist } from './denylist/token.denylist.js';
import { ApiKeyEntity } from './keys/api-key.entity.js';
import { ApiKeyService } from './keys/api-key.service.js';
import { KeyLimitsService } from './limits/key-limits.service.js';
import { AuthorizationServerMetadata } from './oauth/authorization-server.metadata.js';
import { createOAuthController } from './oauth/oauth.controller.js';
import { OAuthService } from './oauth/oauth.service.js';
import { ScopeCatalog } from './scopes/scope.catalog.js';
import { RedisConnection } from './redis/redis.connection.js';
import { AccessTokenService } from './tokens/access-token.service.js';

/** The entities the module stores, for apps that list entities by hand instead of `autoLoadEntities`. */
export const KEYBRIDGE_ENTITIES = [ApiKeyEntity, DenylistEntryEntity] as const;

const EXPORTED = [
  ApiKeyService,
  ApiKeyGuard,
  ApiKeyPassportGuard,
  RequestAuthenticator,
  KeyLimitsService,
  AccessTokenService,
  TokenDenylist,
  OAuthService,
];

/** The module's Redis when the `redis` option is set, connected (or reconnecting in the background). */
async function redisConnection(options: ResolvedApiKeyOptions): Promise<RedisConnection | null> {
  if (!options.redis) return null;
  const connection = new RedisConnection(options.redis, options.storeTimeoutMs);
  await connection.connect();
  return connection;
}

/** The store the `denylist` option names. */
function denylistStore(
  options: ResolvedApiKeyOptions,
  dataSource: DataSource,
  redis: RedisConnection | null,
): DenylistStore {
  const { denylist } = options;
  // Without bearer tokens the key table alone decides (within the cache ttl): nothing to poll or subscribe to.
  if (!options.tokens.enabled && denylist.kind !== 'custom') return new MemoryDenylistStore(options.clock);
  switch (denylist.kind) {
    case 'memory':
      return new MemoryDenylistStore(options.clock);
    case 'database':
      return new DatabaseDenylistStore(dataSource.getRepository(DenylistEntryEntity), {
        pollMs: denylist.pollMs,
        timeoutMs: options.storeTimeoutMs,
        clock: options.clock,
      });
    case 'redis':
      return new RedisDenylistStore(denylist.options ?? redis!, options.storeTimeoutMs, options.clock);
    case 'custom':
      return denylist.store;
  }
}

/**
 * API keys for a NestJS app, and the OAuth 2.0 bridge that trades them for short-lived tokens: `ApiKeyModule.forRoot({ pepper, globalGuard: true })`, or `forRootAsync()` with
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
    extras: Pick<ApiKeyModuleExtras, 'globalGuard' | 'dataSource' | 'oauth'>,
  ): DynamicModule {
    const dataSourceToken = getDataSourceToken(extras.dataSource);
    const providers: Provider[] = [
      ...(definition.providers ?? []),
      {
        provide: RESOLVED_OPTIONS,
        useFactory: (options: ApiKeyModuleOptions) =>
          resolveOptions(options, process.env, extras.oauth ?? {}),
        inject: [API_KEY_MODULE_OPTIONS],
      },
      {
        provide: API_KEY_REPOSITORY,
        useFactory: (dataSource: DataSource) => dataSource.getRepository(ApiKeyEntity),
        inject: [dataSourceToken],
      },
      { provide: REDIS_CONNECTION, useFactory: redisConnection, inject: [RESOLVED_OPTIONS] },
      {
        provide: DENYLIST_STORE,
        useFactory: denylistStore,
        inject: [RESOLVED_OPTIONS, dataSourceToken, REDIS_CONNECTION],
      },
      TokenDenylist,
      AccessTokenService,
      OAuthService,
      ScopeCatalog,
      AuthorizationServerMetadata,
      ApiKeyService,
      KeyLimitsService,
      RequestAuthenticator,
      ApiKeyGuard,
      ApiKeyPassportGuard,
      ApiKeyStrategy,
    ];
    if (extras.globalGuard) providers.push({ provide: APP_GUARD, useExisting: ApiKeyGuard });
    const controllers =
      extras.oauth === false ? [] : [createOAuthController({ ...DEFAULT_OAUTH_ROUTES, ...extras.oauth })];
    return {
      ...definition,
      imports: [
        ...(definition.imports ?? []),
        DiscoveryModule,
        TypeOrmModule.forFeature([...KEYBRIDGE_ENTITIES], extras.dataSource),
      ],
      controllers,
      providers,
      exports: [...(definition.exports ?? []), ...EXPORTED],
    };
  }
}
