import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { KEYBRIDGE_MIGRATIONS } from 'nestjs-keybridge';

/**
 * TypeORM options for a test database URL (`postgres://…`, `mysql://…` or a SQLite file path) holding only the
 * library's tables. Short connect timeouts and no retries, so that an outage test fails fast.
 */
export function fixtureDatabase(databaseUrl: string, name?: string): TypeOrmModuleOptions {
  const common = {
    name,
    autoLoadEntities: true,
    migrations: [...KEYBRIDGE_MIGRATIONS],
    migrationsRun: true,
    synchronize: false,
    retryAttempts: 0,
  };
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    return {
      ...common,
      type: 'postgres',
      url: databaseUrl,
      extra: { connectionTimeoutMillis: 2000, max: 10 },
    };
  }
  if (/^mysql:\/\//.test(databaseUrl)) {
    return {
      ...common,
      type: 'mysql',
      url: databaseUrl,
      connectTimeout: 2000,
      extra: { connectionLimit: 10 },
    };
  }
  mkdirSync(dirname(resolve(databaseUrl)), { recursive: true });
  return { ...common, type: 'better-sqlite3', database: databaseUrl, enableWAL: true };
}
