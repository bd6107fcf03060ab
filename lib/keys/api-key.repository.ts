import { Inject, Injectable } from '@nestjs/common';
import { MoreThan, type QueryDeepPartialEntity, type Repository } from 'typeorm';
import { API_KEY_REPOSITORY, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { readWithRetry, storeCall } from '../common/store-call.util.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { databaseNowSql } from '../migrations/migration.dialect.js';
import { ApiKeyEntity } from './api-key.entity.js';
import type { ListApiKeysQuery } from './api-key.types.js';

/** Uses counted in memory for one key, written in the next batch. */
export interface PendingUsage {
  count: number;
  lastUsedAt: number;
}

/** The column alias of the database's clock, read with every key. */
const DATABASE_NOW = 'keybridge_database_now';
/**
 * How long one measure of the offset between the database's clock and the library's is used before the next
 * read measures it again (monotonic time). Between measures, deadlines follow the library's clock as it moves:
 * a clock moved on purpose (tests) keeps its meaning, and a skewed one is corrected.
 */
const CLOCK_SAMPLE_MS = 10 * 60_000;

/** The columns a rotation claim sets on the key it replaces. */
export type RotationClaim = Pick<ApiKeyEntity, 'rotatedToId' | 'graceEndsAt' | 'updatedAt'> &
  Partial<Pick<ApiKeyEntity, 'revokedAt' | 'revokedReason'>>;

/**
 * Every statement on the key table. Each one runs with the `storeTimeout` deadline and fails closed with
 * `AuthUnavailableError` (503), except the usage batch, which keeps its counts for the next round instead.
 */
@Injectable()
export class ApiKeyRepository {
  /** The cache-miss reads, written once: building them through `findOneBy` costs more than the query. */
  private readonly byHashSql: string;
  private readonly byIdSql: string;
  /**
   * How far the database's clock runs ahead of the library's `clock`, in ms, as last measured by a key read;
   * 0 before the first read, or when the database has no known clock expression. Key deadlines are judged
   * in database time by shifting them by this much, so that instances whose clocks disagree agree on them.
   */
  clockOffsetMs = 0;
  /** When `clockOffsetMs` was measured (`performance.now()`). */
  private clockMeasuredAt = Number.NEGATIVE_INFINITY;

  constructor(
    @Inject(API_KEY_REPOSITORY) private readonly table: Repository<ApiKeyEntity>,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {
    const { driver } = table.manager.connection;
    const { columns, tablePath } = table.metadata;
    const name = tablePath
      .split('.')
      .map((part) => driver.escape(part))
      .join('.');
    const nowSql = databaseNowSql(driver.options.type);
    const select = [
      ...columns.map((column) => driver.escape(column.databaseName)),
      ...(nowSql ? [`${nowSql} AS ${driver.escape(DATABASE_NOW)}`] : []),
    ].join(', ');
    const placeholder = driver.options.type === 'postgres' ? '$1' : '?';
    this.byHashSql = `SELECT ${select} FROM ${name} WHERE ${driver.escape('key_hash')} = ${placeholder}`;
    this.byIdSql = `SELECT ${select} FROM ${name} WHERE ${driver.escape('id')} = ${placeholder}`;
  }

  /** The key stored under a hash, by the unique index on `key_hash`. */
  findByHash(keyHash: string): Promise<ApiKeyEntity | null> {
    return this.readOne(this.byHashSql, keyHash);
  }

  findById(id: string): Promise<ApiKeyEntity | null> {
    return this.readOne(this.byIdSql, id);
  }

  /**
   * One key row, hydrated with the driver's own conversions (transformers included), and the database's
   * clock beside it. A read the database refuses transiently (deadlock, serialization failure, lock timeout)
   * is run once more within the same deadline.
   */
  private readOne(sql: string, parameter: string): Promise<ApiKeyEntity | null> {
    return this.deadline(async () => {
      let before = 0;
      let started = 0;
      const rows = await readWithRetry(() => {
        before = this.options.clock();
        started = performance.now();
        return this.table.query(sql, [parameter]) as Promise<Record<string, unknown>[]>;
      });
      if (rows.length === 0) return null;
      this.measureClock(rows[0][DATABASE_NOW], before, started);
      const { driver } = this.table.manager.connection;
      const entity = this.table.create();
      for (const column of this.table.metadata.columns) {
        column.setEntityValue(entity, driver.prepareHydratedValue(rows[0][column.databaseName], column));
      }
      return entity;
    });
  }

  /** The database read its clock somewhere within the round trip: its middle is the best guess of when. */
  private measureClock(databaseNow: unknown, before: number, started: number): void {
    const now = performance.now();
    const value = Number(databaseNow);
    if (databaseNow == null || !Number.isFinite(value) || now - this.clockMeasuredAt < CLOCK_SAMPLE_MS)
      return;
    this.clockMeasuredAt = now;
    this.clockOffsetMs = Math.round(value - (before + (now - started) / 2));
  }

  /** Newest first; revoked keys only when asked for. */
  list(
    query: Required<Pick<ListApiKeysQuery, 'limit' | 'offset'>> & ListApiKeysQuery,
  ): Promise<ApiKeyEntity[]> {
    const qb = this.table.createQueryBuilder('k').orderBy('k.createdAt', 'DESC').addOrderBy('k.id', 'ASC');
    if (query.subject !== undefined) qb.andWhere('k.subject = :subject', { subject: query.subject });
    if (!query.includeRevoked) qb.andWhere('k.revokedAt IS NULL');
    return this.deadline(() => qb.take(query.limit).skip(query.offset).getMany());
  }

  async insert(record: ApiKeyEntity): Promise<void> {
    await this.deadline(() => this.table.insert(record as QueryDeepPartialEntity<ApiKeyEntity>));
  }

  async update(id: string, changes: Partial<ApiKeyEntity>): Promise<void> {
    await this.deadline(() => this.table.update({ id }, changes as QueryDeepPartialEntity<ApiKeyEntity>));
  }

  /**
   * Marks a key as replaced by `claim.rotatedToId`, unless it is revoked, disabled or already rotated. One
   * conditional UPDATE: of concurrent rotations, exactly one changes the row. True when this one did.
   */
  async claimRotation(id: string, claim: RotationClaim): Promise<boolean> {
    const result = await this.deadline(() =>
      this.table
        .createQueryBuilder()
        .update()
        .set(claim)
        .where('id = :id AND rotated_to_id IS NULL AND revoked_at IS NULL AND disabled_at IS NULL', { id })
        .execute(),
    );
    return (result.affected ?? 0) === 1;
  }

  /** Gives a key back the claim of a rotation whose successor could not be stored (and un-revokes it). */
  async releaseRotation(id: string, successorId: string): Promise<void> {
    await this.deadline(() =>
      this.table
        .createQueryBuilder()
        .update()
        .set({ rotatedToId: null, graceEndsAt: null, revokedAt: null, revokedReason: null })
        .where('id = :id AND rotated_to_id = :successor', { id, successor: successorId })
        .execute(),
    );
  }

  /** Keys revoked after `since` (epoch ms), with when. */
  revokedSince(since: number): Promise<Pick<ApiKeyEntity, 'id' | 'revokedAt'>[]> {
    return this.deadline(() =>
      this.table.find({
        select: { id: true, revokedAt: true },
        where: { revokedAt: MoreThan(new Date(since)) },
      }),
    );
  }

  /** Adds a batch of uses and last-use times in one transaction. No deadline: a failed batch is retried. */
  async addUsage(batch: ReadonlyMap<string, PendingUsage>): Promise<void> {
    await this.table.manager.transaction(async (manager) => {
      for (const [keyId, usage] of batch) {
        await manager
          .createQueryBuilder()
          .update(ApiKeyEntity)
          .set({ usageCount: () => `usage_count + ${usage.count}`, lastUsedAt: new Date(usage.lastUsedAt) })
          .where('id = :keyId', { keyId })
          .execute();
      }
    });
  }

  /** Reads one id of the key table within the store timeout: a health check's proof the store answers. */
  async ping(): Promise<void> {
    await this.deadline(() => this.table.createQueryBuilder('k').select('k.id').limit(1).getRawMany());
  }

  private deadline<T>(operation: () => Promise<T>): Promise<T> {
    return storeCall(this.options.storeTimeoutMs, operation);
  }
}
