import type { QueryRunner } from 'typeorm';
import { InvalidOptionsError } from '../errors.js';

export type SqlDialect = 'postgres' | 'mysql' | 'sqlite';

/** The SQL dialect of the data source a migration runs on; the shipped migrations support three. */
export function dialectOf(queryRunner: QueryRunner): SqlDialect {
  return dialectOfType(queryRunner.connection.options.type);
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
