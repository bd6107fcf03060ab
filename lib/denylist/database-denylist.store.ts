import type { Repository } from 'typeorm';
import { AuthUnavailableError } from '../errors/index.js';
import { DATABASE_NOW_MS, dialectOfType } from '../migrations/migration.dialect.js';
import { storeCall } from '../common/store-call.util.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import { DENYLIST_TABLE, type DenylistEntryEntity } from './denylist-entry.entity.js';
import { DenylistMirror } from './denylist.mirror.js';
import type { DenylistStore } from '../interfaces/denylist-store.interface.js';

/** Rows stamped up to this long before the newest one seen are read again: a commit may land after a later one. */
const OVERLAP_MS = 60_000;
/** Every this many polls the whole table is read, whatever the stamps say. */
const FULL_READ_EVERY = 30;
const PURGE_INTERVAL_MS = 60_000;

export interface DatabaseDenylistOptions {
  /** How often new rows are read. */
  pollMs: number;
  /** How long one query may take. */
  timeoutMs: number;
  /** The time entries expire against (tests move it). */
  clock: () => number;
}

/**
 * Revocations in the app's database (`keybridge_denylist`), so they survive restarts and reach every process
 * on the same database. Each instance mirrors the table in memory and reads the rows added since its last
 * read every `pollMs`; a revocation made elsewhere is honoured within that interval plus one query. Rows are
 * stamped with the database's clock, so a writer with a skewed clock is read like any other, and the whole
 * table is read again every `FULL_READ_EVERY` polls. If the table cannot be read for
 * `2 × pollMs + timeoutMs`, checks fail closed until it can.
 */
export class DatabaseDenylistStore implements DenylistStore {
  private readonly logger = new ThrottledLogger('Keybridge');
  private readonly mirror = new DenylistMirror();
  /** `createdAt` of the newest row read; the next read starts `OVERLAP_MS` before it. */
  private newestSeen = 0;
  /** When the mirror was last known complete (monotonic milliseconds). */
  private syncedAt = -Infinity;
  private readonly staleAfterMs: number;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private lastPurge = 0;
  private polls = 0;
  /** The database's clock: rows are stamped by one clock, whichever process writes. */
  private readonly stampSql: string;
  /** The poll's read, written once: the query builder would build it again every `pollMs`. */
  private readonly readSql: string;

  constructor(
    private readonly repository: Repository<DenylistEntryEntity>,
    private readonly options: DatabaseDenylistOptions,
  ) {
    this.staleAfterMs = 2 * options.pollMs + options.timeoutMs;
    this.stampSql = DATABASE_NOW_MS[dialectOfType(repository.manager.connection.options.type)];
    this.readSql = newRowsSql(repository);
  }

  /**
   * Reads the table once, then every `pollMs`. A database that answers but has no denylist table stops the
   * app with the migration to add; an unreachable one only fails checks closed until it is back.
   */
  async start(): Promise<void> {
    const runner = this.repository.manager.connection.createQueryRunner();
    let exists: boolean | undefined;
    try {
      exists = await storeCall(this.options.timeoutMs, () => runner.hasTable(DENYLIST_TABLE));
    } catch {
      // Unreachable: checked again by every poll.
    } finally {
      await runner.release();
    }
    if (exists === false) {
      throw new Error(
        `The table ${DENYLIST_TABLE} is missing: add KEYBRIDGE_MIGRATIONS (CreateKeybridgeDenylist1763900000000) to the data source's migrations, or choose denylist: 'memory' or { redis }.`,
      );
    }
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** Inserts the entry, or stamps it anew when it exists (a retry after a timed-out insert is read again). */
  async add(id: string, expiresAtMs: number): Promise<void> {
    await storeCall(this.options.timeoutMs, () =>
      this.repository
        .createQueryBuilder()
        .insert()
        .values({ id, expiresAt: expiresAtMs, createdAt: () => this.stampSql })
        .orUpdate(['expires_at', 'created_at'], ['id'])
        .execute(),
    );
    this.mirror.set(id, expiresAtMs);
  }

  has(id: string, now: number): boolean {
    if (!this.isCurrent()) {
      throw new AuthUnavailableError(new Error('the token denylist could not be read from the database'));
    }
    return this.mirror.has(id, now);
  }

  /** Whether the table was read within `2 × pollMs + timeoutMs`. */
  isCurrent(): boolean {
    return performance.now() - this.syncedAt <= this.staleAfterMs;
  }

  /** Reads the rows added since the last read; one read at a time. */
  poll(): Promise<void> {
    this.polling ??= this.read().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async read(): Promise<void> {
    const started = performance.now();
    const now = this.options.clock();
    const full = this.polls++ % FULL_READ_EVERY === 0;
    try {
      const since = full ? 0 : Math.max(0, this.newestSeen - OVERLAP_MS);
      const rows = await storeCall(
        this.options.timeoutMs,
        () => this.repository.query(this.readSql, [since, now]) as Promise<NewRow[]>,
      );
      for (const row of rows) {
        // bigint columns come back as strings from some drivers.
        const createdAt = Number(row.created_at);
        this.mirror.set(row.id, Number(row.expires_at));
        if (createdAt > this.newestSeen) this.newestSeen = createdAt;
      }
      this.syncedAt = started;
      this.mirror.prune(now);
      if (now - this.lastPurge >= PURGE_INTERVAL_MS || now < this.lastPurge) await this.purge(now);
    } catch (error) {
      const cause =
        error instanceof AuthUnavailableError ? (error.cause as Error | undefined) : (error as Error);
      this.logger.warn(
        `Token denylist not readable (${cause?.message ?? 'unknown cause'}); bearer tokens fail closed with 503 until it is.`,
      );
    }
  }

  /** Deletes rows whose tokens have all expired. Any instance may do it; doing it twice is harmless. */
  private async purge(now: number): Promise<void> {
    this.lastPurge = now;
    await storeCall(this.options.timeoutMs, () =>
      this.repository.createQueryBuilder().delete().where('expires_at <= :now', { now }).execute(),
    );
  }
}

/** A row of the poll's read, as the driver returns it. */
interface NewRow {
  id: string;
  expires_at: string | number;
  created_at: string | number;
}

/** The entries stamped at or after `since` (first parameter) that are still live at `now` (second). */
function newRowsSql(repository: Repository<DenylistEntryEntity>): string {
  const { driver } = repository.manager.connection;
  const table = repository.metadata.tablePath
    .split('.')
    .map((part) => driver.escape(part))
    .join('.');
  const [since, now] = driver.options.type === 'postgres' ? ['$1', '$2'] : ['?', '?'];
  const [id, expiresAt, createdAt] = ['id', 'expires_at', 'created_at'].map((name) => driver.escape(name));
  return `SELECT ${id} AS id, ${expiresAt} AS expires_at, ${createdAt} AS created_at FROM ${table} WHERE ${createdAt} >= ${since} AND ${expiresAt} > ${now}`;
}
