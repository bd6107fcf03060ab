import { AuthUnavailableError } from '../errors/index.js';
import { storeCall } from '../common/store-call.util.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import { RedisConnection } from '../redis/redis.connection.js';
import { DEFAULT_REDIS_PREFIX } from '../redis/redis.options.js';
import { RedisSubscription } from '../redis/redis.subscription.js';
import { DenylistMirror } from './denylist.mirror.js';
import type { DenylistStore } from '../interfaces/denylist-store.interface.js';
import type { RedisDenylistOptions } from '../interfaces/redis-options.interface.js';

/**
 * Revocations in Redis, shared by every instance: a sorted set (`<prefix>denylist`, scored by expiry) holds
 * them, and each addition is published on `<prefix>denylist` so other instances learn of it within
 * milliseconds. Each instance mirrors the set in memory, loaded in full whenever its subscription
 * (re)connects — and with it the key table's revoked keys, written back to the set if a failover or a restart
 * of Redis lost them. While the subscription is down or silent, checks fail closed (503) — a revocation could
 * be missed — and a silent connection is dropped and made again. With `revocationReplicas`, an addition is
 * acknowledged only once that many replicas hold it.
 */
export class RedisDenylistStore implements DenylistStore {
  private readonly mirror = new DenylistMirror();
  private readonly logger = new ThrottledLogger('Keybridge');
  private readonly redis: RedisConnection;
  /** Whether the store opened `redis` from its own options (and so closes it). */
  private readonly ownsConnection: boolean;
  private readonly subscription: RedisSubscription;
  private readonly setKey: string;
  /** The entries the database holds (revoked keys), read again on every (re)subscription. */
  private authority: (() => Promise<[string, number][]>) | undefined;

  /** From its own options, or on the module's `redis` connection. */
  constructor(
    options: RedisDenylistOptions | RedisConnection,
    private readonly timeoutMs: number,
    private readonly clock: () => number,
  ) {
    this.ownsConnection = !(options instanceof RedisConnection);
    this.redis =
      options instanceof RedisConnection
        ? options
        : new RedisConnection(
            {
              connection: options.redis,
              keyPrefix: options.keyPrefix ?? DEFAULT_REDIS_PREFIX,
              revocationReplicas: options.revocationReplicas,
            },
            timeoutMs,
          );
    this.setKey = this.redis.key('denylist');
    this.subscription = new RedisSubscription(
      this.redis.duplicate(),
      this.setKey,
      timeoutMs,
      { resync: () => this.reload(), message: (message) => this.receive(message) },
      'bearer tokens fail closed with 503',
    );
  }

  async start(): Promise<void> {
    await this.redis.connect();
    await this.subscription.start();
  }

  async stop(): Promise<void> {
    this.subscription.stop();
    if (this.ownsConnection) this.redis.onApplicationShutdown();
  }

  async add(id: string, expiresAtMs: number): Promise<void> {
    const now = this.clock();
    await storeCall(this.timeoutMs, async () => {
      const results = await this.redis.writer
        .multi()
        .zadd(this.setKey, String(expiresAtMs), id)
        .zremrangebyscore(this.setKey, '-inf', String(now))
        .publish(this.setKey, JSON.stringify([id, expiresAtMs]))
        .exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction was discarded');
      await this.redis.replicated(this.timeoutMs / 2);
    });
    this.mirror.set(id, expiresAtMs);
    this.mirror.prune(now);
  }

  has(id: string, now: number): boolean {
    if (!this.isCurrent()) {
      throw new AuthUnavailableError(new Error('the token denylist in Redis is not reachable'));
    }
    return this.mirror.has(id, now);
  }

  /** Whether the subscription is live: subscribed, caught up and recently heard from. */
  isCurrent(): boolean {
    return this.subscription.live;
  }

  /** Re-applies `load`'s entries after every (re)subscription, and once now. */
  useAuthority(load: () => Promise<[string, number][]>): void {
    this.authority = load;
    if (this.subscription.live) void this.reapply(new Set()).catch(() => undefined);
  }

  /** The whole set, read after (re)subscribing, then what the database says the set must hold. */
  private async reload(): Promise<void> {
    const now = this.clock();
    const flat = await this.redis.client.zrangebyscore(this.setKey, `(${now}`, '+inf', 'WITHSCORES');
    for (let i = 0; i < flat.length; i += 2) this.mirror.set(flat[i], Number(flat[i + 1]));
    this.mirror.prune(now);
    await this.reapply(new Set(flat.filter((_, i) => i % 2 === 0)));
  }

  /** Adds the authority's entries that the set lacks (`inSet`) to the mirror and back to the set. */
  private async reapply(inSet: ReadonlySet<string>): Promise<void> {
    if (!this.authority) return;
    const entries = await this.authority().catch((error: Error) => {
      // Not a reason to fail closed: every bearer request also checks its key in the key table.
      this.logger.warn(`Revoked keys not read back into the Redis denylist: ${error.message}`);
      return [];
    });
    const now = this.clock();
    const missing = entries.filter(([id, expiresAtMs]) => expiresAtMs > now && !inSet.has(id));
    if (missing.length === 0) return;
    for (const [id, expiresAtMs] of missing) this.mirror.set(id, expiresAtMs);
    const members = missing.flatMap(([id, expiresAtMs]) => [String(expiresAtMs), id]);
    await this.redis.client.zadd(this.setKey, ...members);
  }

  private receive(message: string): void {
    try {
      const [id, expiresAtMs] = JSON.parse(message) as [unknown, unknown];
      if (typeof id === 'string' && typeof expiresAtMs === 'number') {
        this.mirror.set(id, expiresAtMs);
        this.mirror.prune(this.clock());
      }
    } catch {
      // Not one of ours.
    }
  }
}
