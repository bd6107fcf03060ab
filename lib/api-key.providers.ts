import type { Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  ASSERTION_REPLAY_CACHE,
  API_KEY_REPOSITORY,
  FAILED_AUTH_THROTTLE,
  KEY_CHANGE_FEED,
  KEY_QUOTAS,
  OWNER_QUOTAS,
  SUBJECT_LIMITS_REPOSITORY,
  REDIS_CONNECTION,
  REQUEST_RATE_LIMITER,
  RESOLVED_OPTIONS,
  TOKEN_RATE_LIMITER,
} from './api-key.internal-constants.js';
import { API_KEY_MODULE_OPTIONS } from './api-key.module-definition.js';
import { ApiKeyPassportGuard } from './auth/api-key-passport.guard.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { ApiKeyStrategy } from './auth/api-key.strategy.js';
import { ClientAddressResolver } from './auth/client-address.resolver.js';
import { RequestAuthenticator } from './auth/request.authenticator.js';
import { DpopBinding } from './auth/dpop.binding.js';
import { DpopProofVerifier } from './dpop/dpop-proof.verifier.js';
import { DatabaseDenylistStore } from './denylist/database-denylist.store.js';
import { DenylistEntryEntity } from './denylist/denylist-entry.entity.js';
import { MemoryDenylistStore } from './denylist/memory-denylist.store.js';
import { RedisDenylistStore } from './denylist/redis-denylist.store.js';
import { TokenDenylist } from './denylist/token.denylist.js';
import { KeybridgeEventEmitter } from './events/event.emitter.js';
import { KeybridgeHealthProbe } from './health/keybridge.health-probe.js';
import type { ApiKeyModuleExtras, ApiKeyModuleOptions } from './interfaces/api-key-options.interface.js';
import { DenylistStore } from './interfaces/denylist-store.interface.js';
import type { ResolvedApiKeyOptions } from './interfaces/resolved-options.interface.js';
import { ApiKeyEntity } from './keys/api-key.entity.js';
import { ApiKeyHasher } from './keys/api-key.hasher.js';
import { ApiKeyRepository } from './keys/api-key.repository.js';
import { ApiKeyService } from './keys/api-key.service.js';
import { ApiKeyVerifier } from './keys/api-key.verifier.js';
import { QuotaLedger } from './keys/quota.ledger.js';
import { QuotaRows } from './keys/quota.rows.js';
import { SubjectLimitsEntity } from './keys/subject-limits.entity.js';
import { SubjectLimitsService } from './keys/subject-limits.service.js';
import { UsageRecorder } from './keys/usage.recorder.js';
import { FailedAuthThrottle } from './limits/failed-auth.throttle.js';
import { KeyLimitsService } from './limits/key-limits.service.js';
import { KeyRateLimiter } from './limits/key-rate.limiter.js';
import { resolveOptions } from './options/options.resolver.js';
import { KeyChangeFeed } from './redis/key-change.feed.js';
import { RedisConnection } from './redis/redis.connection.js';
import { DatabaseReplayCache } from './replay/database-replay.cache.js';
import { RedisReplayCache } from './replay/redis-replay.cache.js';
import { ReplayEntryEntity } from './replay/replay-entry.entity.js';
import { ScopeCatalog } from './scopes/scope.catalog.js';
import { AccessTokenService } from './tokens/access-token.service.js';

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

/** Failed authentications counted per client address; counted locally while Redis is out, as a shield should. */
function failedAuthThrottle(
  options: ResolvedApiKeyOptions,
  redis: RedisConnection | null,
): FailedAuthThrottle | null {
  if (!options.failedAuthLimit) return null;
  const counter = new KeyRateLimiter('failed-auth', {
    redis,
    timeoutMs: options.storeTimeoutMs,
    onOutage: 'local',
  });
  return new FailedAuthThrottle(options.failedAuthLimit, counter);
}

/**
 * A `KeyRateLimiter` for one use, in Redis with the `redis` option, else in memory; request limits lease
 * blocks in `rateLimitMode: 'leased'`.
 */
function rateLimiter(
  namespace: string,
): (options: ResolvedApiKeyOptions, redis: RedisConnection | null) => KeyRateLimiter {
  return (options, redis) =>
    new KeyRateLimiter(namespace, {
      redis,
      timeoutMs: options.storeTimeoutMs,
      lease: namespace === 'requests' ? options.rateLimitLease : undefined,
    });
}

/** The quota ledger of one table: the keys' (`id`) or the owners' (`subject`). */
function quotaLedger(
  entity: typeof ApiKeyEntity | typeof SubjectLimitsEntity,
  idColumn: string,
  namespace: string,
): (options: ResolvedApiKeyOptions, dataSource: DataSource, redis: RedisConnection | null) => QuotaLedger {
  return (options, dataSource, redis) =>
    new QuotaLedger(
      new QuotaRows(dataSource.getRepository<object>(entity), idColumn, options.storeTimeoutMs),
      options,
      redis,
      namespace,
    );
}

/**
 * Every collaborator of the module, each built once, here: the resolved options, the Redis connection and
 * what lives on it, the denylist store, the key table, the limiters, the event emitter, and the services and
 * guards they make up. The OAuth endpoints add their own (`oauth/oauth.providers.ts`).
 */
export function createApiKeyProviders(extras: Pick<ApiKeyModuleExtras, 'dataSource' | 'oauth'>): Provider[] {
  const dataSourceToken = getDataSourceToken(extras.dataSource);
  return [
    {
      provide: RESOLVED_OPTIONS,
      useFactory: (options: ApiKeyModuleOptions) => resolveOptions(options, process.env, extras.oauth ?? {}),
      inject: [API_KEY_MODULE_OPTIONS],
    },
    {
      provide: API_KEY_REPOSITORY,
      useFactory: (dataSource: DataSource) => dataSource.getRepository(ApiKeyEntity),
      inject: [dataSourceToken],
    },
    {
      provide: SUBJECT_LIMITS_REPOSITORY,
      useFactory: (dataSource: DataSource) => dataSource.getRepository(SubjectLimitsEntity),
      inject: [dataSourceToken],
    },
    { provide: REDIS_CONNECTION, useFactory: redisConnection, inject: [RESOLVED_OPTIONS] },
    {
      provide: KEY_QUOTAS,
      useFactory: quotaLedger(ApiKeyEntity, 'id', 'quota'),
      inject: [RESOLVED_OPTIONS, dataSourceToken, REDIS_CONNECTION],
    },
    {
      provide: OWNER_QUOTAS,
      useFactory: quotaLedger(SubjectLimitsEntity, 'subject', 'owner-quota'),
      inject: [RESOLVED_OPTIONS, dataSourceToken, REDIS_CONNECTION],
    },
    {
      provide: DenylistStore,
      useFactory: denylistStore,
      inject: [RESOLVED_OPTIONS, dataSourceToken, REDIS_CONNECTION],
    },
    {
      provide: KEY_CHANGE_FEED,
      useFactory: (options: ResolvedApiKeyOptions, redis: RedisConnection | null) =>
        redis ? new KeyChangeFeed(redis, options.storeTimeoutMs) : null,
      inject: [RESOLVED_OPTIONS, REDIS_CONNECTION],
    },
    {
      provide: ASSERTION_REPLAY_CACHE,
      // Shared by every instance either way: Redis when configured, else the database they already share.
      useFactory: (options: ResolvedApiKeyOptions, dataSource: DataSource, redis: RedisConnection | null) =>
        redis
          ? new RedisReplayCache(redis, options.storeTimeoutMs)
          : new DatabaseReplayCache(dataSource.getRepository(ReplayEntryEntity), {
              timeoutMs: options.storeTimeoutMs,
              clock: options.clock,
            }),
      inject: [RESOLVED_OPTIONS, dataSourceToken, REDIS_CONNECTION],
    },
    {
      provide: REQUEST_RATE_LIMITER,
      useFactory: rateLimiter('requests'),
      inject: [RESOLVED_OPTIONS, REDIS_CONNECTION],
    },
    {
      provide: TOKEN_RATE_LIMITER,
      useFactory: rateLimiter('tokens'),
      inject: [RESOLVED_OPTIONS, REDIS_CONNECTION],
    },
    {
      provide: FAILED_AUTH_THROTTLE,
      useFactory: failedAuthThrottle,
      inject: [RESOLVED_OPTIONS, REDIS_CONNECTION],
    },
    {
      provide: KeybridgeEventEmitter,
      useFactory: (options: ResolvedApiKeyOptions) => new KeybridgeEventEmitter(options.onEvent),
      inject: [RESOLVED_OPTIONS],
    },
    {
      provide: ApiKeyHasher,
      useFactory: (options: ResolvedApiKeyOptions) => new ApiKeyHasher(options.pepper),
      inject: [RESOLVED_OPTIONS],
    },
    ApiKeyRepository,
    UsageRecorder,
    SubjectLimitsService,
    TokenDenylist,
    ApiKeyVerifier,
    ApiKeyService,
    AccessTokenService,
    KeyLimitsService,
    ScopeCatalog,
    ClientAddressResolver,
    DpopProofVerifier,
    DpopBinding,
    RequestAuthenticator,
    ApiKeyGuard,
    ApiKeyPassportGuard,
    ApiKeyStrategy,
    KeybridgeHealthProbe,
  ];
}
