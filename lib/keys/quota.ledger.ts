import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { REDIS_CONNECTION, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import type { RedisConnection } from '../redis/redis.connection.js';
import { ApiKeyRepository } from './api-key.repository.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { QuotaLeases } from './quota.leases.js';
import { RedisQuotaCounter, type SpentUnits } from './quota.redis-counter.js';
import type { VerifiedKey } from './verified-key.js';

/**
 * Where quotas are counted, without a database write per request: in Redis with the `redis` option (units
 * written back to the key rows every `quotaSync.flushInterval`), else in memory from blocks of
 * `quotaSync.lease` units reserved in the rows. The row stays the authority: a counter starts from it, and a
 * refill or top-up (a new `quota_refilled_at`) starts every counter again from it. While Redis is out,
 * `onOutage: 'fail-closed'` refuses (503) and `'local'` counts from database leases.
 */
@Injectable()
export class QuotaLedger implements BeforeApplicationShutdown {
  private readonly logger = new ThrottledLogger('Keybridge');
  private readonly leases: QuotaLeases;
  private readonly shared: RedisQuotaCounter | undefined;
  /** Keys spent on through Redis since the last write-back. */
  private readonly dirty = new Set<string>();
  /** Keys counted from leases while Redis was out: their Redis counters are set from the row when it is back. */
  private readonly leasedInOutage = new Set<string>();
  private readonly timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly repository: ApiKeyRepository,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    @Inject(REDIS_CONNECTION) private readonly redis: RedisConnection | null,
  ) {
    const { flushMs, lease } = options.quotaSync;
    this.leases = new QuotaLeases(repository, lease, flushMs);
    if (redis) {
      this.shared = new RedisQuotaCounter(redis, options.storeTimeoutMs);
      this.timer = setInterval(() => void this.flush(), flushMs);
      this.timer.unref();
    }
  }

  /**
   * Spends `cost` units of the key's quota, refilling it first when due. False when they are not left;
   * `AuthUnavailableError` (503) when the database or, failing closed, Redis does not answer.
   */
  async spend(key: VerifiedKey, cost = 1): Promise<boolean> {
    await this.repository.refillQuota(key, this.options.clock());
    if (!this.shared) return this.leases.spend(key, cost);
    let spent: boolean;
    try {
      if (this.leasedInOutage.has(key.id)) await this.resync(key.id);
      spent = await this.shared.spend(key, cost, () => this.repository.readQuota(key.id));
    } catch (error) {
      if (this.redis!.onOutage === 'fail-closed') throw error;
      this.logger.warn(
        "Redis is unreachable; counting quotas from database leases in this instance's memory.",
      );
      this.leasedInOutage.add(key.id);
      return this.leases.spend(key, cost);
    }
    this.dirty.add(key.id);
    return spent;
  }

  /** The units a stored key has left as counted now: Redis's count, or the row plus this instance's lease. */
  async remaining(record: ApiKeyEntity): Promise<number | null> {
    if (record.remaining === null) return null;
    const epoch = record.quotaRefilledAt?.getTime() ?? 0;
    const left = await this.shared?.left(record.id, epoch).catch(() => undefined);
    return left ?? record.remaining + this.leases.held(record.id, epoch);
  }

  /** Writes back to the rows the units spent through Redis, one UPDATE per key; failed units wait for the next round. */
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
      await this.repository.writeBackQuota(batch);
    } catch (error) {
      this.logger.warn(`Could not write back quotas of ${batch.length} key(s), will retry: ${String(error)}`);
      for (const spent of batch) {
        this.dirty.add(spent.id);
        await shared.restore(spent).catch(() => undefined);
      }
    }
  }

  /** Redis answers again for a key counted from leases: gives back the lease, then sets the counter from the row. */
  private async resync(keyId: string): Promise<void> {
    await this.leases.release(keyId);
    const row = await this.repository.readQuota(keyId);
    if (row) await this.shared!.resync(keyId, row);
    this.leasedInOutage.delete(keyId);
  }
}
