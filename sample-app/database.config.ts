import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { KEYBRIDGE_MIGRATIONS } from 'nestjs-keybridge';
import { CreateSampleOrders1763800000100 } from './migrations/1763800000100-create-orders.migration.js';
import { Order } from './orders/order.entity.js';

export const DEFAULT_SQLITE_PATH = './data/keybridge.sqlite';

/**
 * TypeORM options for `DATABASE_URL`: `postgres://…`, `mysql://…` / `mariadb://…`, or a SQLite file path.
 * Migrations run at start; `synchronize` stays off.
 */
export function databaseOptions(databaseUrl: string = DEFAULT_SQLITE_PATH): TypeOrmModuleOptions {
  const common = {
    autoLoadEntities: true,
    entities: [Order],
    migrations: [...KEYBRIDGE_MIGRATIONS, CreateSampleOrders1763800000100],
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
  if (/^(mysql|mariadb):\/\//.test(databaseUrl)) {
    return {
      ...common,
      // TypeORM reads MariaDB's catalog differently; `mariadb://` selects its dialect.
      type: databaseUrl.startsWith('mariadb:') ? 'mariadb' : 'mysql',
      url: databaseUrl.replace(/^mariadb:/, 'mysql:'),
      connectTimeout: 2000,
      extra: { connectionLimit: 10 },
    };
  }
  const path = databaseUrl.replace(/^sqlite:(\/\/)?/, '');
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  return { ...common, type: 'better-sqlite3', database: path, enableWAL: path !== ':memory:' };
}
