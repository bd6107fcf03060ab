import { randomUUID } from 'node:crypto';
import { storeCall } from '../common/store-call.util.js';
import type { RedisConnection } from './redis.connection.js';
import { RedisSubscription } from './redis.subscription.js';

/** What a verified-key cache does with the feed's news. */
export interface KeyChangeListener {
  /** Another instance changed this key: drop it. */
  changed(keyId: string): void;
  /** The feed (re)connected and may have missed changes: drop everything. */
  reset(): void;
}

/**
 * The ids of changed keys, published on `<prefix>keys:changed` by the instance that changed them, so every
 * other instance drops them from its verified-key cache within milliseconds instead of the cache `ttl`.
 * While the subscription is down, changes made elsewhere are seen within the `ttl` as without Redis, and the
 * whole cache is dropped once it is back.
 */
export class KeyChangeFeed {
  /** Only an instance with a cache listens; every instance publishes. */
  private subscription: RedisSubscription | undefined;
  private readonly channel: string;
  /** Tags this instance's own publications, which it has already applied. */
  private readonly origin = randomUUID();

  constructor(
    private readonly redis: RedisConnection,
    private readonly timeoutMs: number,
  ) {
    this.channel = redis.key('keys:changed');
  }

  /** Hands other instances' changes to `listener` from `start()` on. */
  listen(listener: KeyChangeListener): void {
    this.subscription = new RedisSubscription(
      this.redis.duplicate(),
      this.channel,
      this.timeoutMs,
      {
        resync: async () => listener.reset(),
        message: (message) => {
          const [origin, keyId] = message.split(' ');
          if (origin !== this.origin && keyId) listener.changed(keyId);
        },
      },
      'changes made on other instances are seen within the cache ttl',
    );
  }

  async start(): Promise<void> {
    await this.redis.connect();
    await this.subscription?.start();
  }

  stop(): void {
    this.subscription?.stop();
  }

  /** Tells the other instances; rejects when Redis cannot be reached in time. */
  async publish(keyId: string): Promise<void> {
    await storeCall(this.timeoutMs, () => this.redis.client.publish(this.channel, `${this.origin} ${keyId}`));
  }
}
