import { Inject, Injectable } from '@nestjs/common';
import { MoreThan, type QueryDeepPartialEntity, type Repository } from 'typeorm';
import { API_KEY_REPOSITORY, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { storeCall } from '../common/store-call.util.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ApiKeyEntity } from './api-key.entity.js';
import type { ListApiKeysQuery } from './api-key.types.js';
import type { VerifiedKey } from './verified-key.js';

/** Uses counted in memory for one key, written in the next batch. */
export interface PendingUsage {
  count: number;
  lastUsedAt: number;
}

/** The columns a rotation claim sets on the key it replaces. */
export type RotationClaim = Pick<ApiKeyEntity, 'rotatedToId' | 'graceEndsAt' | 'updatedAt'> &
  Partial<Pick<ApiKeyEntity, 'revokedAt' | 'revokedReason'>>;

/**
 * Every statement on the key table. Each one runs with the `storeTimeout` deadline and fails closed with
 * `AuthUnavailableError` (503), except the usage batch, which keeps its counts for the next round instead.
 */
@Injectable()
export class ApiKeyRepository {
  /** The cache-miss read, written once: building it through `findOneBy` costs more than the query. */
  private readonly byHashSql: string;

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
    const select = columns.map((column) => driver.escape(column.databaseName)).join(', ');
    const placeholder = driver.options.type === 'postgres' ? '$1' : '?';
    this.byHashSql = `SELECT ${select} FROM ${name} WHERE ${driver.escape('key_hash')} = ${placeholder}`;
  }

  /**
   * The key stored under a hash, by the unique index on `key_hash`. Rows are hydrated with the driver's own
   * conversions, transformers included.
   */
  findByHash(keyHash: string): Promise<ApiKeyEntity | null> {
    return this.deadline(async () => {
      const rows = (await this.table.query(this.byHashSql, [keyHash])) as Record<string, unknown>[];
      if (rows.length === 0) return null;
      const { driver } = this.table.manager.connection;
      const entity = this.table.create();
      for (const column of this.table.metadata.columns) {
        column.setEntityValue(entity, driver.prepareHydratedValue(rows[0][column.databaseName], column));
      }
      return entity;
    });
  }

  findById(id: string): Promise<ApiKeyEntity | null> {
    return this.deadline(() => this.table.findOneBy({ id }));
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

  /**
   * Spends one unit of a key's quota: one atomic decrement (`UPDATE … WHERE remaining > 0`). A due refill is
   * one more conditional UPDATE, issued only when this process believes the interval has passed; instances
   * racing for it refill once, and `key.quotaRefilledAtMs` learns the refill either way. True when a unit
   * was spent.
   */
  spendQuota(key: VerifiedKey, now: number): Promise<boolean> {
    const refill = key.quotaRefill;
    return this.deadline(async () => {
      if (refill && now >= key.quotaRefilledAtMs + refill.intervalSeconds * 1000) {
        const due = now - refill.intervalSeconds * 1000;
        const refilled = await this.table
          .createQueryBuilder()
          .update()
          .set({ remaining: refill.amount, quotaRefilledAt: new Date(now) })
          .where('id = :id AND (quota_refilled_at IS NULL OR quota_refilled_at <= :due)', { id: key.id, due })
          .execute();
        if ((refilled.affected ?? 0) > 0) {
          key.quotaRefilledAtMs = now;
        } else {
          const record = await this.table.findOne({
            where: { id: key.id },
            select: { id: true, quotaRefilledAt: true },
          });
          key.quotaRefilledAtMs = record?.quotaRefilledAt?.getTime() ?? now;
        }
      }
      const result = await this.table
        .createQueryBuilder()
        .update()
        .set({ remaining: () => 'remaining - 1' })
        .where('id = :id AND remaining > 0', { id: key.id })
        .execute();
      return (result.affected ?? 0) > 0;
    });
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
