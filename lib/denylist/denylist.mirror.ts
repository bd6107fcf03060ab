/** A `Map` of ids to expiry instants, pruned as it is read and now and then in full. */
export class DenylistMirror {
  private readonly entries = new Map<string, number>();
  private lastPrune = 0;

  set(id: string, expiresAtMs: number): void {
    const current = this.entries.get(id);
    if (current === undefined || current < expiresAtMs) this.entries.set(id, expiresAtMs);
  }

  has(id: string, now: number): boolean {
    if (this.entries.size === 0) return false;
    const expiresAt = this.entries.get(id);
    if (expiresAt === undefined) return false;
    if (expiresAt > now) return true;
    this.entries.delete(id);
    return false;
  }

  /** Drops expired entries; at most once a minute unless forced. */
  prune(now: number, force = false): void {
    if (!force && now - this.lastPrune < 60_000 && now >= this.lastPrune) return;
    this.lastPrune = now;
    for (const [id, expiresAt] of this.entries) if (expiresAt <= now) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
