/**
 * Where revocations live until the tokens they concern would have expired anyway. Entries are ids:
 * `token:<jti>` for one access token, `key:<keyId>` for every token minted from a key (and the key itself).
 *
 * `has` runs on every authenticated request, so a store answers it from memory and keeps that memory
 * current by itself (the database store polls, the Redis store listens); when it cannot vouch that its
 * answer is current it throws `AuthUnavailableError`, and the request fails closed with 503.
 */
export interface DenylistStore {
  /** Loads existing entries and starts keeping them current. Called once at application start. */
  start(): Promise<void>;
  /** Stops timers and closes connections the store opened. */
  stop(): Promise<void>;
  /** Records an entry durably; resolves once every process sharing the store will see it. */
  add(id: string, expiresAtMs: number): Promise<void>;
  /** Whether `id` is denied at `now`; throws `AuthUnavailableError` when the answer may be stale. */
  has(id: string, now: number): boolean;
  /** How a revocation made by another process reaches this one, for logs and the README. */
  readonly propagation: string;
}

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
