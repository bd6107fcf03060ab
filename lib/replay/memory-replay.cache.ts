import type { ReplayCache } from '../interfaces/replay-cache.interface.js';

/** Above this many entries, each claim first drops the expired ones. */
const PRUNE_ABOVE = 1024;

/**
 * One-time identifiers in this process's memory: exact for one instance, blind to the others (use the
 * `redis` option with several). Only identifiers of correctly signed assertions are recorded, and each for
 * at most an assertion's lifetime, so its size follows legitimate traffic.
 */
export class MemoryReplayCache implements ReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly clock: () => number) {}

  async claim(id: string, ttlMs: number): Promise<boolean> {
    const now = this.clock();
    if (this.seen.size > PRUNE_ABOVE) {
      for (const [entry, expiresAt] of this.seen) if (expiresAt <= now) this.seen.delete(entry);
    }
    const expiresAt = this.seen.get(id);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.seen.set(id, now + ttlMs);
    return true;
  }
}
