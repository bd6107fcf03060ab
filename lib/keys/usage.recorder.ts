import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ApiKeyRepository, type PendingUsage } from './api-key.repository.js';

/**
 * Counts uses and the last-use time per key in memory and writes them in one transaction every interval,
 * so a request never waits on a database write. `close()` writes until nothing is pending; a failed write
 * keeps its counts for the next round: the last write happens after every module is destroyed and before
 * the data source closes.
 */
@Injectable()
export class UsageRecorder implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger('Keybridge');
  private pending = new Map<string, PendingUsage>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly repository: ApiKeyRepository,
    @Inject(RESOLVED_OPTIONS) options: ResolvedApiKeyOptions,
  ) {
    this.timer = setInterval(() => void this.flush(), options.usageFlushMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    await this.flush();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.close();
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

  /** Writes what is pending now, after any write already under way. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    this.flushing = this.write().finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  /** Stops the timer and writes everything recorded so far, including uses recorded during the write. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (let round = 0; round < 5 && (this.pending.size > 0 || this.flushing); round++) await this.flush();
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.repository.addUsage(batch);
    } catch (error) {
      this.logger.warn(
        `Could not record usage of ${batch.size} key(s), will retry: ${(error as Error)?.message ?? String(error)}`,
      );
      for (const [keyId, usage] of batch) this.restore(keyId, usage);
    }
  }

  private restore(keyId: string, usage: PendingUsage): void {
    const entry = this.pending.get(keyId);
    if (!entry) {
      this.pending.set(keyId, usage);
      return;
    }
    entry.count += usage.count;
    entry.lastUsedAt = Math.max(entry.lastUsedAt, usage.lastUsedAt);
  }
}
