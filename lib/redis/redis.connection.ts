import { Redis } from 'ioredis';
import { storeCall } from '../common/store-call.util.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import { ConnectionHeartbeat } from './connection.heartbeat.js';
import type { KeybridgeRedisOptions, RedisOutagePolicy } from '../interfaces/redis-options.interface.js';
import { DEFAULT_REDIS_PREFIX, REDIS_CONNECTION_SETTINGS } from './redis.options.js';

/**
 * One Redis for the module: a command connection for counters, publications and the denylist, from which
 * each subscription duplicates a connection of its own. A connection the module opens is made with
 * `REDIS_CONNECTION_SETTINGS` and watched by a heartbeat; a client of the caller's is used as it is (its
 * settings and its health are the caller's).
 */
export class RedisConnection {
  readonly client: Redis;
  readonly keyPrefix: string;
  readonly onOutage: RedisOutagePolicy;
  private readonly owned: boolean;
  private readonly heartbeat: ConnectionHeartbeat | undefined;
  private readonly logger = new ThrottledLogger('Keybridge');
  private connecting: Promise<void> | undefined;

  constructor(
    options: KeybridgeRedisOptions,
    private readonly timeoutMs: number,
  ) {
    const { connection } = options;
    this.owned = !(connection instanceof Redis);
    if (connection instanceof Redis) this.client = connection;
    else {
      this.client =
        typeof connection === 'string'
          ? new Redis(connection, REDIS_CONNECTION_SETTINGS)
          : new Redis({ ...connection, ...REDIS_CONNECTION_SETTINGS });
      this.client.on('error', (error: Error) => this.logger.warn(`Redis: ${error.message}`));
      this.heartbeat = new ConnectionHeartbeat(this.client, this.logger);
    }
    this.keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_PREFIX;
    this.onOutage = options.onOutage ?? 'fail-closed';
  }

  /**
   * Connects once, however many callers ask. Redis being down is not an error here: ioredis keeps
   * reconnecting, and until it is back whatever needs Redis fails as its policy says.
   */
  connect(): Promise<void> {
    this.heartbeat?.start();
    this.connecting ??= storeCall(this.timeoutMs, async () => {
      if (this.client.status === 'wait') await this.client.connect();
    }).catch(() => {
      this.logger.warn('Redis is not reachable at start; retrying in the background.');
    });
    return this.connecting;
  }

  /**
   * A connection of its own for a subscription (which cannot share the command connection), made like the
   * command connection, except that commands wait for it to connect rather than fail.
   */
  duplicate(): Redis {
    return this.client.duplicate({ ...REDIS_CONNECTION_SETTINGS, enableOfflineQueue: true });
  }

  /** The name of a key or channel under the prefix. */
  key(name: string): string {
    return `${this.keyPrefix}${name}`;
  }

  /** Closes what the module opened, after every subscription and store has stopped (Nest calls it last). */
  onApplicationShutdown(): void {
    this.heartbeat?.stop();
    if (this.owned) this.client.disconnect();
  }
}
