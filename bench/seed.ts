import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { DataSource, type QueryDeepPartialEntity } from 'typeorm';
import {
  ApiKeyEntity,
  ApiKeyService,
  API_KEY_TABLE,
  DENYLIST_TABLE,
  REPLAY_TABLE,
  SUBJECT_LIMITS_TABLE,
} from 'nestjs-keybridge';
import { BENCH_QUOTA, BENCH_RATE_LIMIT, BENCH_SCOPE, type DatabaseTarget } from './bench.config.js';

/** Rows per multi-row INSERT: 1,000 rows × 25 columns stays under both SQLite's and PostgreSQL's bind limits. */
const INSERT_CHUNK = 1000;
/** TypeORM's default migrations table, dropped with the keys so the shipped migration runs again. */
const MIGRATIONS_TABLE = 'migrations';

/**
 * Empties the bench database before the app starts: a SQLite file is deleted; on PostgreSQL the bench's own
 * database is created if needed, then the keybridge tables (keys and token denylist) and TypeORM's migrations
 * table are dropped.
 */
export async function resetDatabase(target: DatabaseTarget): Promise<void> {
  if (target.db === 'sqlite') {
    await Promise.all(['', '-wal', '-shm'].map((suffix) => rm(target.location + suffix, { force: true })));
    return;
  }
  await ensurePostgresDatabase(target.location);
  await withDataSource(target.location, async (dataSource) => {
    await dataSource.query(`DROP TABLE IF EXISTS "${API_KEY_TABLE}"`);
    await dataSource.query(`DROP TABLE IF EXISTS "${REPLAY_TABLE}"`);
    await dataSource.query(`DROP TABLE IF EXISTS "${SUBJECT_LIMITS_TABLE}"`);
    await dataSource.query(`DROP TABLE IF EXISTS "${DENYLIST_TABLE}"`);
    await dataSource.query(`DROP TABLE IF EXISTS "${MIGRATIONS_TABLE}"`);
  });
}

/**
 * Stores `target.keys` keys: the `loadKeys` the load presents through `ApiKeyService.create` (so they are
 * hashed and stored exactly as an app would), with `limitedKey` one more with `BENCH_RATE_LIMIT`, the
 * others as bulk-inserted rows with random 64-hex-digit hashes and otherwise valid columns. Returns the
 * plaintext of the load keys and their ids, and the rate-limited key.
 */
export async function seedKeys(
  keys: ApiKeyService,
  dataSource: DataSource,
  target: DatabaseTarget,
): Promise<{
  keys: string[];
  keyIds: string[];
  limited?: { key: string; id: string };
  quota?: { key: string; id: string };
  storedKeys: number;
  bulkInsertMs: number;
}> {
  const loadKeys: string[] = [];
  const keyIds: string[] = [];
  for (let i = 0; i < target.loadKeys; i++) {
    const created = await keys.create({
      name: `bench load key ${i}`,
      subject: `bench-client-${i}`,
      scopes: [BENCH_SCOPE],
    });
    loadKeys.push(created.key);
    keyIds.push(created.id);
  }
  let limited: { key: string; id: string } | undefined;
  if (target.limitedKey) {
    const created = await keys.create({
      name: 'bench rate-limited key',
      subject: 'bench-client-limited',
      scopes: [BENCH_SCOPE],
      rateLimit: { ...BENCH_RATE_LIMIT },
    });
    limited = { key: created.key, id: created.id };
  }
  let quota: { key: string; id: string } | undefined;
  if (target.quotaKey) {
    const made = await keys.create({
      name: 'bench quota key',
      subject: 'bench-client-quota',
      scopes: [BENCH_SCOPE],
      remaining: BENCH_QUOTA,
    });
    quota = { key: made.key, id: made.id };
  }
  const created = target.loadKeys + (limited ? 1 : 0) + (quota ? 1 : 0);
  const started = performance.now();
  const others = Math.max(0, target.keys - created);
  if (others > 0) {
    await dataSource.transaction(async (manager) => {
      for (let first = 0; first < others; first += INSERT_CHUNK) {
        const rows = fillerRows(first, Math.min(INSERT_CHUNK, others - first));
        await manager
          .createQueryBuilder()
          .insert()
          .into(ApiKeyEntity)
          .values(rows as QueryDeepPartialEntity<ApiKeyEntity>[])
          .updateEntity(false)
          .execute();
      }
    });
  }
  const bulkInsertMs = performance.now() - started;
  await dataSource.query(target.db === 'postgres' ? `ANALYZE "${API_KEY_TABLE}"` : 'ANALYZE');
  if (target.db === 'sqlite') await dataSource.query('PRAGMA wal_checkpoint(TRUNCATE)');
  const storedKeys = await dataSource.getRepository(ApiKeyEntity).count();
  const expected = Math.max(target.keys, created);
  if (storedKeys !== expected) {
    throw new Error(`Seeding stored ${storedKeys} keys instead of ${expected}.`);
  }
  return {
    keys: loadKeys,
    keyIds,
    ...(limited ? { limited } : {}),
    ...(quota ? { quota } : {}),
    storedKeys,
    bulkInsertMs,
  };
}

/** Keys of other apps and members: distinct ids, subjects spread over 1,000 owners, a few scope sets. */
function fillerRows(first: number, count: number): ApiKeyEntity[] {
  const now = new Date();
  const rows: ApiKeyEntity[] = [];
  for (let i = first; i < first + count; i++) {
    const keyHash = randomBytes(32).toString('hex');
    rows.push({
      id: `key_${randomBytes(16).toString('hex')}`,
      keyHash,
      hint: `kb_live_…${keyHash.slice(-4)}`,
      environment: 'live',
      name: `filler key ${i}`,
      subject: `bench-app-${i % 1000}`,
      scopes: i % 3 === 0 ? ['orders:read', 'orders:write'] : [BENCH_SCOPE],
      metadata: null,
      allowedIps: null,
      allowedReferrers: null,
      rateLimit: null,
      remaining: null,
      quotaRefill: null,
      quotaRefilledAt: null,
      usageCount: 0,
      createdAt: now,
      updatedAt: now,
      expiresAt: null,
      lastUsedAt: null,
      disabledAt: null,
      revokedAt: null,
      revokedReason: null,
      rotatedFromId: null,
      rotatedToId: null,
      graceEndsAt: null,
      publicKey: null,
      requireProof: false,
    });
  }
  return rows;
}

/** Creates the bench's PostgreSQL database when it does not exist yet, through the server's `postgres` database. */
async function ensurePostgresDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new Error(
      `Use a plain PostgreSQL database name (letters, digits, _), got ${JSON.stringify(name)}.`,
    );
  }
  const admin = new URL(url);
  admin.pathname = '/postgres';
  await withDataSource(admin.toString(), async (dataSource) => {
    const found = (await dataSource.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      name,
    ])) as unknown[];
    if (found.length === 0) await dataSource.query(`CREATE DATABASE "${name}"`);
  });
}

async function withDataSource(url: string, work: (dataSource: DataSource) => Promise<void>): Promise<void> {
  const dataSource = new DataSource({ type: 'postgres', url, extra: { connectionTimeoutMillis: 2000 } });
  await dataSource.initialize();
  try {
    await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
