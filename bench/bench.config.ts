import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { KEYBRIDGE_MIGRATIONS } from 'nestjs-keybridge';

export type AdapterName = 'express' | 'fastify';
export type DatabaseName = 'sqlite' | 'postgres';
export type CacheMode = 'warm' | 'off';

/** Where the keys live for one group of runs; seeded once, then served by every adapter and cache mode. */
export interface DatabaseTarget {
  db: DatabaseName;
  /** A better-sqlite3 file path, or a `postgres://` URL. */
  location: string;
  /** Keys stored in total, the ones the load presents included. */
  keys: number;
  /** Keys created through `ApiKeyService.create` for the load to present; the rest are bulk-inserted rows. */
  loadKeys: number;
}

/** One server the parent starts and measures. */
export interface ServerConfig extends DatabaseTarget {
  adapter: AdapterName;
  cache: CacheMode;
}

/** What the child process is asked to do, passed as JSON in `BENCH_TASK`. */
export type BenchTask = ({ mode: 'seed' } & DatabaseTarget) | ({ mode: 'serve' } & ServerConfig);

/** Messages from the child process to the parent over the IPC channel. */
export type ChildMessage =
  | { type: 'seeded'; keys: string[]; storedKeys: number; seedMs: number; bulkInsertMs: number }
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string };

/** A fixed, non-secret pepper: the bench measures HMAC cost, it protects nothing. */
export const BENCH_PEPPER = 'nestjs-keybridge-benchmark-pepper-not-a-secret';
export const BENCH_SCOPE = 'bench:read';

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
