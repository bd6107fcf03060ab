import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { KEYBRIDGE_MIGRATIONS } from 'nestjs-keybridge';

export type AdapterName = 'express' | 'fastify';
export type DatabaseName = 'sqlite' | 'postgres';
export type CacheMode = 'warm' | 'off';
/**
 * What a configuration loads beside the unguarded baseline: `apikey` = `GET /guarded` with `X-API-Key`;
 * `bearer` = the same route with `Authorization: Bearer <access token>`; `token` = `POST /oauth/token`
 * (client_credentials, HTTP Basic), which mints and signs a new token per request; `limited` = `GET /guarded`
 * with the `X-API-Key` of a key that has a rate limit (`BENCH_RATE_LIMIT`, never reached), so every request
 * also counts one hit in the module's rate-limit counters; `dpop` = `GET /guarded` with `Authorization: DPoP
 * <DPoP-bound token>` and a fresh DPoP proof per request (signature check, `jti` claimed in the replay cache);
 * `quota` = `GET /guarded` with the `X-API-Key` of a key with a quota (`BENCH_QUOTA`, never used up), so every
 * request also spends one unit of it (in memory from database leases, or in Redis with `--limits redis`).
 */
export type RouteName = 'apikey' | 'bearer' | 'token' | 'limited' | 'dpop' | 'quota';
export const ROUTE_NAMES: readonly RouteName[] = ['apikey', 'bearer', 'token', 'limited', 'dpop', 'quota'];
/**
 * Where the module counts per-key rate limits: `memory` = this process (the default, no `redis` option);
 * `redis` = the module's `redis` option, one EVALSHA round trip per request of a rate-limited key.
 */
export type LimitsStore = 'memory' | 'redis' | 'leased';
export const LIMITS_STORES: readonly LimitsStore[] = ['memory', 'redis', 'leased'];

/** The lease of the `leased` store: blocks of this many units (requests, quota units) per instance. */
export const BENCH_LEASE = 100;
/** A load: the unguarded baseline or one of the routes under test. */
export type LoadName = 'unguarded' | RouteName;

/**
 * One run of one load against a server profiled with `--profile`, listed in `<profile>.loads.json` beside the
 * profile so that `profile-report.ts` can split the samples by load.
 */
export interface ProfileWindow {
  load: LoadName;
  /** CLOCK_MONOTONIC in µs: on Linux, the clock of a V8 `.cpuprofile`'s `startTime` and sample times. */
  startUs: number;
  endUs: number;
  requests: number;
}

/** Where the keys live for one group of runs; seeded once, then served by every adapter and cache mode. */
export interface DatabaseTarget {
  db: DatabaseName;
  /** A better-sqlite3 file path, or a `postgres://` URL. */
  location: string;
  /** Keys stored in total, the ones the load presents included. */
  keys: number;
  /** Keys created through `ApiKeyService.create` for the load to present; the rest are bulk-inserted rows. */
  loadKeys: number;
  /**
   * Also create, through `ApiKeyService.create`, the key of the `limited` route (with `BENCH_RATE_LIMIT`). It
   * takes the place of one bulk-inserted row, or comes on top when `keys` leaves no room (1 key: 2 stored).
   */
  limitedKey?: boolean;
  /** Also create the key of the `quota` route (with `BENCH_QUOTA` units), in the same way. */
  quotaKey?: boolean;
}

/** The module's `redis` option for a server whose rate-limit counters live in Redis. */
export interface BenchRedis {
  url: string;
  /** Unique per run and server, so no two servers (or runs) share a counter, and the driver can delete them. */
  keyPrefix: string;
  /** `rateLimitMode: 'leased'` and `quotaSync: { mode: 'leased' }` with this lease; absent for the exact mode. */
  lease?: number;
}

/** One server the parent starts and measures. */
export interface ServerConfig extends DatabaseTarget {
  adapter: AdapterName;
  cache: CacheMode;
  /** The routes loaded, each interleaved with the unguarded baseline in the same rounds. */
  routes: RouteName[];
  /** Where per-key rate limits are counted; with `redis`, `redis` holds the module's option. */
  limits: LimitsStore;
  redis?: BenchRedis;
}

/** What the child process is asked to do, passed as JSON in `BENCH_TASK`. */
export type BenchTask = ({ mode: 'seed' } & DatabaseTarget) | ({ mode: 'serve' } & ServerConfig);

/** Messages from the child process to the parent over the IPC channel. */
export type ChildMessage =
  | {
      type: 'seeded';
      keys: string[];
      /** The ids of `keys`, in the same order: the `client_id` of the token endpoint's Basic credentials. */
      keyIds: string[];
      /** The key of the `limited` route and its id, when `limitedKey` was asked for. */
      limited?: { key: string; id: string };
      /** The key of the `quota` route and its id, when `quotaKey` was asked for. */
      quota?: { key: string; id: string };
      storedKeys: number;
      seedMs: number;
      bulkInsertMs: number;
    }
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string };

/** A fixed, non-secret pepper: the bench measures HMAC cost, it protects nothing. */
export const BENCH_PEPPER = 'nestjs-keybridge-benchmark-pepper-not-a-secret';
export const BENCH_SCOPE = 'bench:read';
/** The `iss` of the bench's tokens (and their audience); nothing resolves it, it only has to be a URL. */
export const BENCH_ISSUER = 'https://bench.keybridge.invalid';
/** Longer than any run, so the one Bearer token minted per server never expires under load. */
export const BENCH_TOKEN_TTL = '1h';

/**
 * The rate limit of the `limited` route's key: near the largest count the 32-bit columns hold (2³¹ − 1), over
 * an hour. One server never gets near it (it would take 550,000 req/s), so every request is counted and none
 * refused; an hour rather than the longest window (24 days) so that counters a crashed run leaves in Redis
 * expire soon.
 */
export const BENCH_RATE_LIMIT = { limit: 2_000_000_000, window: '1h' } as const;

/** The quota of the `quota` route's key: near the largest count its 32-bit column holds, never used up. */
export const BENCH_QUOTA = 2_000_000_000;

/** TypeORM options for a bench database: the shipped migrations run at start, `synchronize` stays off. */
export function benchDatabaseOptions(target: DatabaseTarget): TypeOrmModuleOptions {
  const common = {
    autoLoadEntities: true,
    migrations: [...KEYBRIDGE_MIGRATIONS],
    migrationsRun: true,
    synchronize: false,
    retryAttempts: 0,
  };
  if (target.db === 'postgres') {
    return {
      ...common,
      type: 'postgres',
      url: target.location,
      extra: { connectionTimeoutMillis: 2000, max: 10 },
    };
  }
  return { ...common, type: 'better-sqlite3', database: target.location, enableWAL: true };
}
