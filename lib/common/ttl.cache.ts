/**
 * A bounded map whose entries expire `ttlMs` after they were set. When full, the oldest entry goes first.
 * Reads do not reorder entries: the TTL is short, so insertion order is close enough to recency and a hit
 * costs one Map lookup.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {}

  /** The live value under `key`; `now` saves a clock read when the caller already has the time. */
  get(key: string, now: number = this.clock()): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Stores `value` until `expiresAt` (default: `ttlMs` from now). */
  set(key: string, value: V, expiresAt: number = this.clock() + this.ttlMs): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Deletes every entry whose value matches; O(size), for rare invalidations. */
  deleteWhere(matches: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (matches(entry.value)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
