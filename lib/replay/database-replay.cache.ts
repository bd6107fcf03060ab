import { hash } from 'node:crypto';
import type { Repository } from 'typeorm';
import { isDuplicateKeyError, storeCall } from '../common/store-call.util.js';
import type { ReplayCache } from '../interfaces/replay-cache.interface.js';
import type { ReplayEntryEntity } from './replay-entry.entity.js';

/** Every this many claims, an instance deletes the expired rows (not awaited by the claim). */
const SWEEP_EVERY = 100;

export interface DatabaseReplayOptions {
  /** How long one statement may take before the claim fails closed. */
  timeoutMs: number;
  /** The time identifiers expire against (tests move it). */
  clock: () => number;
  sweepEvery?: number;
}

/**
 * One-time identifiers in the app's database (`keybridge_replay`), shared by every instance on it. The
 * primary key makes one INSERT the atomic "accept once": of two instances given the same assertion, one
 * inserts and the other gets a duplicate key. A row left behind by an expired identifier is taken over by one
 * conditional UPDATE, as atomic. No timer: expired rows are deleted by every `SWEEP_EVERY`th claim.
 */
export class DatabaseReplayCache implements ReplayCache {
  private claims = 0;
  private sweeping: Promise<void> | undefined;
  private readonly sweepEvery: number;
  /**
   * The INSERT of every claim, written once: with DPoP it runs on every request, and TypeORM's query builder
   * costs more than the statement itself.
   */
  private readonly insertSql: string;

  constructor(
    private readonly repository: Repository<ReplayEntryEntity>,
    private readonly options: DatabaseReplayOptions,
  ) {
    this.sweepEvery = options.sweepEvery ?? SWEEP_EVERY;
    const { driver } = repository.manager.connection;
    const table = repository.metadata.tablePath
      .split('.')
      .map((part) => driver.escape(part))
      .join('.');
    const values = driver.options.type === 'postgres' ? '$1, $2' : '?, ?';
    this.insertSql = `INSERT INTO ${table} (${driver.escape('id')}, ${driver.escape('expires_at')}) VALUES (${values})`;
  }

  async claim(id: string, ttlMs: number): Promise<boolean> {
    const key = hash('sha256', id, 'base64url');
    const now = this.options.clock();
    const expiresAt = now + Math.max(1, Math.ceil(ttlMs));
    const claimed = await storeCall(this.options.timeoutMs, async () => {
      try {
        await this.repository.query(this.insertSql, [key, expiresAt]);
        return true;
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
      const taken = await this.repository
        .createQueryBuilder()
        .update()
        .set({ expiresAt })
        .where('id = :key AND expires_at <= :now', { key, now })
        .execute();
      return taken.affected === 1;
    });
    if (++this.claims % this.sweepEvery === 0) void this.sweep();
    return claimed;
  }

  /** Deletes the rows whose identifiers have expired; one sweep at a time, failures left to the next one. */
  sweep(): Promise<void> {
    this.sweeping ??= storeCall(this.options.timeoutMs, () =>
      this.repository
        .createQueryBuilder()
        .delete()
        .where('expires_at <= :now', { now: this.options.clock() })
        .execute(),
    )
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }
}
