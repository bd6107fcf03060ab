import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';

export interface DatabaseTarget {
  name: 'sqlite' | 'postgres' | 'mysql';
  /** A fresh, empty database URL for one app (a new SQLite file, or the shared server with our tables dropped). */
  fresh(): Promise<string>;
}

/** Every table the suites' apps create: dropped before a suite starts on a shared database. */
export const TABLES = [
  'sample_orders',
  'keybridge_api_keys',
  'keybridge_denylist',
  'keybridge_replay',
  'keybridge_subject_limits',
  'migrations',
];

async function dropTables(type: 'postgres' | 'mysql', url: string): Promise<void> {
  const dataSource = new DataSource({ type, url });
  await dataSource.initialize();
  try {
    for (const table of TABLES) await dataSource.query(`DROP TABLE IF EXISTS ${table}`);
  } finally {
    await dataSource.destroy();
  }
}

export const sqlite: DatabaseTarget = {
  name: 'sqlite',
  fresh: async () => join(mkdtempSync(join(tmpdir(), 'keybridge-test-')), 'keys.sqlite'),
};

/** SQLite always; PostgreSQL and MySQL when `TEST_POSTGRES_URL` / `TEST_MYSQL_URL` are set. */
export function databaseTargets(): DatabaseTarget[] {
  const targets: DatabaseTarget[] = [sqlite];
  const postgres = process.env.TEST_POSTGRES_URL;
  const mysql = process.env.TEST_MYSQL_URL;
  if (postgres)
    targets.push({ name: 'postgres', fresh: async () => (await dropTables('postgres', postgres), postgres) });
  if (mysql) targets.push({ name: 'mysql', fresh: async () => (await dropTables('mysql', mysql), mysql) });
  return targets;
}

export const ADAPTERS = ['express', 'fastify'] as const;

/** Every (database, adapter) pair, for `describe.each`. */
export function targetMatrix(): [string, DatabaseTarget, (typeof ADAPTERS)[number]][] {
  return databaseTargets().flatMap((db) =>
    ADAPTERS.map(
      (adapter) =>
        [`${db.name} on ${adapter}`, db, adapter] as [string, DatabaseTarget, (typeof ADAPTERS)[number]],
    ),
  );
}

/** Every (database server, adapter) pair: PostgreSQL and MySQL only, for suites that cut the link to one. */
export function serverMatrix(): [string, DatabaseTarget, (typeof ADAPTERS)[number]][] {
  return targetMatrix().filter(([, db]) => db.name !== 'sqlite');
}

/**
 * `describe.each(serverMatrix())`, or a single skipped block naming why when no database server is configured,
 * so that a run on SQLite alone says what it left out.
 */
export function describeEachServer() {
  const cases = serverMatrix();
  return cases.length > 0
    ? describe.each(cases)
    : describe.skip.each([['no database server configured', sqlite, 'express']] as typeof cases);
}
