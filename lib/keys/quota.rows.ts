import type { ObjectLiteral, Repository } from 'typeorm';
import { storeCall } from '../common/store-call.util.js';
import type { KeyQuotaRefill } from './api-key.entity.js';

/** What a row holds of a quota: units left (`null` for no quota) and its epoch (`quota_refilled_at`, 0 if none). */
export interface QuotaRow {
  remaining: number | null;
  epoch: number;
}

/** Units spent outside the row (Redis) and taken for writing back to it. */
export interface SpentUnits {
  id: string;
  units: number;
  epoch: number;
}

/** Whatever carries a quota on the hot path: a verified key, or an owner's limits. */
export interface QuotaHolder {
  /** The row's id: a key id, or a subject. */
  readonly id: string;
  readonly quotaRefill: KeyQuotaRefill | null;
  /** When the quota was last refilled as far as this process knows; moves forward as it refills. */
  quotaRefilledAtMs: number;
  /** The row's `quota_refilled_at` as last seen (0 when none): moves on each refill and top-up. */
  quotaEpochMs: number;
}

/**
 * The quota statements of a table with the columns `remaining`, `quota_refilled_at` (epoch ms) and an id
 * column: the key table and the owners' limits. Each runs within `timeoutMs` and fails closed with 503,
 * except the write-back, whose failed batch is retried.
 */
export class QuotaRows {
  constructor(
    private readonly table: Repository<ObjectLiteral>,
    /** The id column (`id`, `subject`). */
    private readonly idColumn: string,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Refills a quota when this process believes its interval has passed: one conditional UPDATE, so
   * instances racing for it refill once, and `holder` learns the refill (its time and epoch) either way.
   */
  refill(holder: QuotaHolder, now: number): Promise<void> {
    const refill = holder.quotaRefill;
    if (!refill || now < holder.quotaRefilledAtMs + refill.intervalSeconds * 1000) return Promise.resolve();
    return this.deadline(async () => {
      const due = now - refill.intervalSeconds * 1000;
      const refilled = await this.table
        .createQueryBuilder()
        .update()
        .set({ remaining: refill.amount, quotaRefilledAt: new Date(now) })
        .where(`${this.idColumn} = :id AND (quota_refilled_at IS NULL OR quota_refilled_at <= :due)`, {
          id: holder.id,
          due,
        })
        .execute();
      const at = (refilled.affected ?? 0) > 0 ? now : (await this.read(holder.id))?.epoch || now;
      holder.quotaRefilledAtMs = at;
      holder.quotaEpochMs = Math.max(holder.quotaEpochMs, at);
    });
  }

  async read(id: string): Promise<QuotaRow | null> {
    const rows = (await this.deadline(() =>
      this.table
        .createQueryBuilder('q')
        .select('q.remaining', 'remaining')
        .addSelect('q.quotaRefilledAt', 'epoch')
        .where(`q.${this.idColumn} = :id`, { id })
        .getRawMany(),
    )) as { remaining: number | string | null; epoch: number | string | null }[];
    if (rows.length === 0) return null;
    const { remaining, epoch } = rows[0];
    return { remaining: remaining === null ? null : Number(remaining), epoch: Number(epoch ?? 0) };
  }

  /**
   * Takes `units` off a stored quota if that many are left and its epoch is still `epoch` (no refill or
   * top-up since it was read): one conditional UPDATE, so instances never reserve the same units.
   */
  async reserve(id: string, units: number, epoch: number): Promise<boolean> {
    const result = await this.deadline(() =>
      this.update(id, epoch, `remaining - ${units}`).andWhere('remaining >= :units', { units }).execute(),
    );
    return (result.affected ?? 0) > 0;
  }

  /** Gives back units reserved and not spent, unless the quota was refilled or topped up since. */
  async release(id: string, units: number, epoch: number): Promise<void> {
    await this.deadline(() => this.update(id, epoch, `remaining + ${units}`).execute());
  }

  /**
   * Writes back units spent elsewhere (Redis): one UPDATE per row, never below zero, skipped for a quota
   * refilled or topped up since (its new value already counts from zero). No deadline: a failed batch is
   * retried.
   */
  async writeBack(batch: readonly SpentUnits[]): Promise<void> {
    await this.table.manager.transaction(async (manager) => {
      const table = manager.getRepository(this.table.target);
      for (const { id, units, epoch } of batch) {
        await this.update(
          id,
          epoch,
          `CASE WHEN remaining > ${units} THEN remaining - ${units} ELSE 0 END`,
          table,
        ).execute();
      }
    });
  }

  /** `UPDATE … SET remaining = <expression> WHERE <id> = :id AND <the quota epoch is still epoch>`. */
  private update(id: string, epoch: number, remaining: string, table = this.table) {
    return table
      .createQueryBuilder()
      .update()
      .set({ remaining: () => remaining })
      .where(`${this.idColumn} = :id AND remaining IS NOT NULL AND COALESCE(quota_refilled_at, 0) = :epoch`, {
        id,
        epoch,
      });
  }

  private deadline<T>(operation: () => Promise<T>): Promise<T> {
    return storeCall(this.timeoutMs, operation);
  }
}
