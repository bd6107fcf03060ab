import { Logger } from '@nestjs/common';
import type { Repository } from 'typeorm';
import type { ApiKeyEntity } from './api-key.entity.js';

/**
 * Counts uses and the last-use time per key in memory and writes them in one batch every interval, so a
 * request never waits on a database write. Pending counts are flushed on shutdown; a failed flush keeps them
 * for the next round.
 */
export class UsageRecorder {
  private readonly logger = new Logger('Keybridge');
  private pending = new Map<string, { count: number; lastUsedAt: number }>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly repository: Repository<ApiKeyEntity>,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(keyId: string, at: number): void {
    const entry = this.pending.get(keyId);
    if (entry) {
      entry.count++;
      if (at > entry.lastUsedAt) entry.lastUsedAt = at;
    } else {
      this.pending.set(keyId, { count: 1, lastUsedAt: at });
    }
  }

  /** Writes what is pending. Concurrent calls share one write. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const failed: [string, { count: number; lastUsedAt: number }][] = [];
    for (const [keyId, usage] of batch) {
      try {
        await this.repository
          .createQueryBuilder()
          .update()
          .set({ usageCount: () => `usage_count + ${usage.count}`, lastUsedAt: new Date(usage.lastUsedAt) })
          .where('id = :keyId', { keyId })
          .execute();
      } catch {
        failed.push([keyId, usage]);
      }
    }
    if (failed.length > 0) {
      this.logger.warn(`Could not record usage of ${failed.length} key(s); will retry.`);
      for (const [keyId, usage] of failed) {
        const entry = this.pending.get(keyId);
        if (entry) {
          entry.count += usage.count;
          entry.lastUsedAt = Math.max(entry.lastUsedAt, usage.lastUsedAt);
        } else this.pending.set(keyId, usage);
      }
    }
  }
}
