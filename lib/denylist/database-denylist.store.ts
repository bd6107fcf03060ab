import { Logger } from '@nestjs/common';
import type { Repository } from 'typeorm';
import { AuthUnavailableError } from '../errors.js';
import { storeCall } from '../keys/store-call.util.js';
import type { DenylistEntryEntity } from './denylist-entry.entity.js';
import { DenylistMirror, type DenylistStore } from './denylist.store.js';

/** Rows written up to this long before the newest one seen are read again, for writers whose clocks lag. */
const OVERLAP_MS = 60_000;
const PURGE_INTERVAL_MS = 60_000;
const LOG_INTERVAL_MS = 10_000;

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
 * read every `pollMs`; a revocation made elsewhere is honoured within that interval plus one query. If the
 * table cannot be read for `2 × pollMs + timeoutMs`, checks fail closed until it can.
 */
export class DatabaseDenylistStore implements DenylistStore {
  private readonly logger = new Logger('Keybridge');
  private readonly mirror = new DenylistMirror();
  /** `createdAt` of the newest row read; the next read starts `OVERLAP_MS` before it. */
  private newestSeen = 0;
  /** When the mirror was last known complete (monotonic milliseconds). */
  private syncedAt = -Infinity;
  private readonly staleAfterMs: number;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private lastPurge = 0;
  private lastLog = -Infinity;

  constructor(
    private readonly repository: Repository<DenylistEntryEntity>,
    private readonly options: DatabaseDenylistOptions,
  ) {
    this.staleAfterMs = 2 * options.pollMs + options.timeoutMs;
  }

  get propagation(): string {
    return `database, read every ${this.options.pollMs} ms`;
  }

  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  async add(id: string, expiresAtMs: number): Promise<void> {
    const createdAt = Date.now();
    await storeCall(this.options.timeoutMs, () =>
      this.repository
        .createQueryBuilder()
        .insert()
        .values({ id, expiresAt: expiresAtMs, createdAt })
        .orIgnore()
        .execute(),
    );
    this.mirror.set(id, expiresAtMs);
  }

  has(id: string, now: number): boolean {
    if (performance.now() - this.syncedAt > this.staleAfterMs) {
      throw new AuthUnavailableError(new Error('the token denylist could not be read from the database'));
    }
    return this.mirror.has(id, now);
  }

  /** Reads the rows added since the last read; one read at a time. */
  poll(): Promise<void> {
    this.polling ??= this.read().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async read(): Promise<void> {
    const started = performance.now();
    const now = this.options.clock();
    try {
      const rows = await storeCall(this.options.timeoutMs, () =>
        this.repository
          .createQueryBuilder('d')
          .select(['d.id', 'd.expiresAt', 'd.createdAt'])
          .where('d.createdAt >= :since AND d.expiresAt > :now', {
            since: Math.max(0, this.newestSeen - OVERLAP_MS),
            now,
          })
          .getMany(),
      );
      for (const row of rows) {
        this.mirror.set(row.id, row.expiresAt);
        if (row.createdAt > this.newestSeen) this.newestSeen = row.createdAt;
      }
      this.syncedAt = started;
      this.mirror.prune(now);
      if (now - this.lastPurge >= PURGE_INTERVAL_MS || now < this.lastPurge) await this.purge(now);
    } catch (error) {
      const cause =
        error instanceof AuthUnavailableError ? (error.cause as Error | undefined) : (error as Error);
      if (started - this.lastLog >= LOG_INTERVAL_MS) {
        this.lastLog = started;
        this.logger.warn(
          `Token denylist not readable (${cause?.message ?? 'unknown cause'}); bearer tokens fail closed with 503 until it is.`,
        );
      }
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
