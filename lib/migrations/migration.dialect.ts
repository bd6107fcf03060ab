import type { QueryRunner } from 'typeorm';
import { InvalidOptionsError } from '../errors/index.js';

export type SqlDialect = 'postgres' | 'mysql' | 'sqlite';

/** The SQL dialect of the data source a migration runs on; the shipped migrations support three. */
export function dialectOf(queryRunner: QueryRunner): SqlDialect {
  return dialectOfType(queryRunner.connection.options.type);
}

/** The database's own clock in epoch milliseconds, as an SQL expression of each dialect. */
export const DATABASE_NOW_MS: Readonly<Record<SqlDialect, string>> = {
  postgres: '(extract(epoch from clock_timestamp()) * 1000)::bigint',
  mysql: 'ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000)',
  sqlite: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
};

/** `DATABASE_NOW_MS` of a TypeORM data source type, or `undefined` for a database without shipped SQL. */
export function databaseNowSql(type: string): string | undefined {
  if (type === 'postgres') return DATABASE_NOW_MS.postgres;
  if (type === 'mysql' || type === 'mariadb') return DATABASE_NOW_MS.mysql;
  if (type === 'better-sqlite3' || type === 'sqlite') return DATABASE_NOW_MS.sqlite;
  return undefined;
}

/** The SQL dialect of a TypeORM data source type. */
export function dialectOfType(type: string): SqlDialect {
  switch (type) {
    case 'postgres':
      return 'postgres';
    case 'mysql':
    case 'mariadb':
      return 'mysql';
    case 'better-sqlite3':
      return 'sqlite';
    default:
      throw new InvalidOptionsError([
        `nestjs-keybridge ships migrations for PostgreSQL, MySQL/MariaDB and SQLite, not for "${type}". Create the tables from the entities in KEYBRIDGE_ENTITIES with your own migration.`,
      ]);
  }
}

/** Runs each statement of the data source's dialect in order. */
export async function runStatements(
  queryRunner: QueryRunner,
  statements: Record<SqlDialect, readonly string[]>,
): Promise<void> {
  for (const sql of statements[dialectOf(queryRunner)]) await queryRunner.query(sql);
}
