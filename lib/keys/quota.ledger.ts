import type { BeforeApplicationShutdown } from '@nestjs/common';
import { ThrottledLogger } from '../common/throttled.logger.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import type { RedisConnection } from '../redis/redis.connection.js';
import { QuotaLeases } from './quota.leases.js';
import { RedisQuotaCounter } from './quota.redis-counter.js';
import type { QuotaHolder, QuotaRows, SpentUnits } from './quota.rows.js';

/** A stored row with a quota: a key's (by `id`) or an owner's (by `subject`). */
export type StoredQuota = { remaining: number | null; quotaRefilledAt: Date | null } & (
  { id: string } | { subject: string }
);

/**
 * Where the quotas of one table (keys, or owners) are counted, without a database write per request: in
 * Redis with the `redis` option (units written back to the rows every `quotaSync.flushInterval`), else (or
 * with `quotaSync.mode: 'leased'`) in memory from blocks of `quotaSync.lease` units reserved in the rows. The row stays the authority: a counter
 * starts from it, and a refill or top-up (a new `quota_refilled_at`) starts every counter again from it.
 * While Redis is out, `onOutage: 'fail-closed'` refuses (503) and `'local'` counts from database leases.
 */
export class QuotaLedger implements BeforeApplicationShutdown {
  private readonly logger = new ThrottledLogger('Keybridge');
  private readonly leases: QuotaLeases;
  private readonly shared: RedisQuotaCounter | undefined;
  /** Rows spent on through Redis since the last write-back. */
  private readonly dirty = new Set<string>();
  /** Rows counted from leases while Redis was out: their Redis counters are set from the row when it is back. */
  private readonly leasedInOutage = new Set<string>();
  private readonly timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly rows: QuotaRows,
    private readonly options: ResolvedApiKeyOptions,
    private readonly redis: RedisConnection | null,
    /** The Redis namespace of the counters: `quota` (keys), `owner-quota` (owners). */
    namespace: string,
  ) {
    const { flushMs, lease, mode } = options.quotaSync;
    this.leases = new QuotaLeases(rows, lease, flushMs);
    // `quotaSync.mode: 'leased'`: leases even with Redis (which still carries the key-change feed, so another
    // instance's top-up or refill reaches this one's cached key, and with it the new epoch, within milliseconds).
    if (redis && mode === 'exact') {
      this.shared = new RedisQuotaCounter(redis, options.storeTimeoutMs, namespace);
      this.timer = setInterval(() => void this.flush(), flushMs);
      this.timer.unref();
    }
  }

  /**
   * Spends `cost` units of the holder's quota, refilling it first when due. False when they are not left;
   * `AuthUnavailableError` (503) when the database or, failing closed, Redis does not answer.
   */
  async spend(holder: QuotaHolder, cost = 1): Promise<boolean> {
    await this.rows.refill(holder, this.options.clock());
    if (!this.shared) return this.leases.spend(holder, cost);
    let spent: boolean;
    try {
      if (this.leasedInOutage.has(holder.id)) await this.resync(holder.id);
      spent = await this.shared.spend(holder, cost, () => this.rows.read(holder.id));
    } catch (error) {
      if (this.redis!.onOutage === 'fail-closed') throw error;
      this.logger.warn(
        "Redis is unreachable; counting quotas from database leases in this instance's memory.",
      );
      this.leasedInOutage.add(holder.id);
      return this.leases.spend(holder, cost);
    }
    this.dirty.add(holder.id);
    return spent;
  }

  /** The units a row has left as counted now: Redis's count, or the row plus this instance's lease. */
  async remaining(
    id: string,
    row: { remaining: number | null; quotaRefilledAt: Date | null },
  ): Promise<number | null> {
    if (row.remaining === null) return null;
    const epoch = row.quotaRefilledAt?.getTime() ?? 0;
    const left = await this.shared?.left(id, epoch).catch(() => undefined);
    return left ?? row.remaining + this.leases.held(id, epoch);
  }

  /** Writes back to the rows the units spent through Redis, one UPDATE per row; failed units wait for the next round. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.shared || this.dirty.size === 0) return;
    this.flushing = this.writeBack(this.shared).finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  /** Writes back what Redis counted and gives back unspent leases, before the data source closes. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    await this.leases.releaseAll();
  }

  private async writeBack(shared: RedisQuotaCounter): Promise<void> {
    const ids = [...this.dirty];
    this.dirty.clear();
    const batch: SpentUnits[] = [];
    for (const id of ids) {
      try {
        const spent = await shared.take(id);
        if (spent.units > 0) batch.push(spent);
      } catch {
        this.dirty.add(id); // Redis is out: its units stay there for a later round
      }
    }
    if (batch.length === 0) return;
    try {
      await this.rows.writeBack(batch);
    } catch (error) {
      this.logger.warn(`Could not write back quotas of ${batch.length} row(s), will retry: ${String(error)}`);
      for (const spent of batch) {
        this.dirty.add(spent.id);
        await shared.restore(spent).catch(() => undefined);
      }
    }
  }

  /** Redis answers again for a row counted from leases: gives back the lease, then sets the counter from the row. */
  private async resync(id: string): Promise<void> {
    await this.leases.release(id);
    const row = await this.rows.read(id);
    if (row) await this.shared!.resync(id, row);
    this.leasedInOutage.delete(id);
  }
}
