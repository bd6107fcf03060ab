import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  allListeners,
  ApiKeyModule,
  countEvents,
  DEFAULT_KEY_PREFIXES,
  logEvents,
  type ApiKeyModuleOptions,
  type KeybridgeRedisOptions,
  type SigningAlgorithm,
  type SigningKeyOption,
} from 'nestjs-keybridge';
import { KeybridgeHealthIndicator } from 'nestjs-keybridge/health';
import { DatabaseUnavailableFilter } from './database-unavailable.filter.js';
import { databaseOptions } from './database.config.js';
import { HealthController } from './health.controller.js';
import type { ThrottleConfig } from './throttling.module.js';
import { METRICS, MetricsController, SampleMetrics } from './metrics.controller.js';
import {
  LOGGED_KEY_PREFIXES,
  nestRequestLog,
  REQUEST_LOG,
  RequestLoggingMiddleware,
  type RequestLog,
} from './request-logging.middleware.js';
import { KeysAdminController } from './keys/keys-admin.controller.js';
import { SubjectLimitsAdminController } from './keys/subject-limits-admin.controller.js';
import { Order } from './orders/order.entity.js';
import { OrdersController } from './orders/orders.controller.js';
import { OrdersMcpController } from './orders/orders.mcp-controller.js';
import { OrdersService } from './orders/orders.service.js';

export interface SampleAppConfig {
  /** `postgres://…`, `mysql://…`, or a SQLite file path. Default `./data/keybridge.sqlite`. */
  databaseUrl?: string;
  pepper: string;
  /** Private key (PEM or JWK) that signs access tokens. */
  signingKey?: string;
  /** Its algorithm. Default `EdDSA`. */
  signingAlgorithm?: SigningAlgorithm;
  /** The public URL of the app: `iss` of its tokens and base of its OAuth metadata. */
  issuer?: string;
  /**
   * With Redis, several instances share revocations, rate-limit counters and key-cache invalidation through
   * it; without, revocations go through the database and counters stay per instance.
   */
  redisUrl?: string;
  /** Or a Redis Cluster, Sentinel, or any other `connection` the module's `redis` option takes. */
  redis?: KeybridgeRedisOptions['connection'];
  /** Prefix of the Redis keys and channels. Default `keybridge:`. */
  redisKeyPrefix?: string;
  /** Receives one line per request (credentials redacted). Default: Nest's logger, context `HTTP`. */
  requestLog?: RequestLog;
  /** Per-key throttling with `@nestjs/throttler`; off by default. */
  throttle?: ThrottleConfig;
  /** Anything else to pass to `ApiKeyModule.forRoot()` (tests tune the cache, the clock, limits). */
  keybridge?: ApiKeyModuleOptions;
}

/** `KEYBRIDGE_SIGNING_KEY` as the module's `signing` option: a private key, or for HS256 a secret. */
function signingKeyOf(config: SampleAppConfig): SigningKeyOption {
  const alg = config.signingAlgorithm ?? 'EdDSA';
  return alg === 'HS256' ? { alg, secret: config.signingKey } : { alg, privateKey: config.signingKey };
}

@Module({})
export class AppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestLoggingMiddleware).forRoutes('*path');
  }

  /** `after` are modules imported after ApiKeyModule, so their app-wide guards run after the key guard. */
  static forRoot(config: SampleAppConfig, after: DynamicModule[] = []): DynamicModule {
    const metrics = new SampleMetrics();
    const { onEvent, ...keybridge } = config.keybridge ?? {};
    const redis = config.redis ?? config.redisUrl;
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot(databaseOptions(config.databaseUrl)),
        TypeOrmModule.forFeature([Order]),
        TerminusModule.forRoot(),
        ApiKeyModule.forRoot({
          pepper: config.pepper,
          issuer: config.issuer,
          ...(config.signingKey ? { signing: signingKeyOf(config) } : {}),
          ...(redis ? { redis: { connection: redis, keyPrefix: config.redisKeyPrefix } } : {}),
          // Every audit event is counted for /metrics, and logged unless the caller takes the events.
          onEvent: allListeners(countEvents(metrics.events), onEvent ?? logEvents()),
          ...keybridge,
          globalGuard: true,
        }),
        ...after,
      ],
      controllers: [
        OrdersController,
        OrdersMcpController,
        KeysAdminController,
        SubjectLimitsAdminController,
        HealthController,
        MetricsController,
      ],
      providers: [
        OrdersService,
        KeybridgeHealthIndicator,
        { provide: APP_FILTER, useClass: DatabaseUnavailableFilter },
        { provide: REQUEST_LOG, useValue: config.requestLog ?? nestRequestLog() },
        {
          provide: LOGGED_KEY_PREFIXES,
          useValue: Object.values({ ...DEFAULT_KEY_PREFIXES, ...keybridge.prefixes }).filter(Boolean),
        },
        { provide: METRICS, useValue: metrics },
      ],
    };
  }
}
