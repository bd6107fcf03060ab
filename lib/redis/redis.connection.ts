import { Redis, type RedisOptions } from 'ioredis';
import { storeCall } from '../keys/store-call.util.js';
import { ThrottledLogger } from '../logging/throttled.logger.js';
import { ConnectionHeartbeat } from './connection.heartbeat.js';

/** What the `redis` option accepts beside a plain URL. */
export interface KeybridgeRedisOptions {
  /** A `redis://` URL, ioredis options, or an ioredis client (used as it is and never closed by the module). */
  connection: string | RedisOptions | Redis;
  /** Prefix of every key and channel the module uses. Default `keybridge:`. */
  keyPrefix?: string;
  /**
   * What rate limits do while Redis cannot be reached: `'fail-closed'` (default) answers requests that need a
   * counter with 503; `'local'` counts in this instance's memory until Redis is back, so each instance allows
   * the full limit meanwhile. Bearer tokens fail closed either way when the denylist is in Redis.
   */
  onOutage?: 'fail-closed' | 'local';
}

export type RedisOutagePolicy = NonNullable<KeybridgeRedisOptions['onOutage']>;

/** Settings every connection the module opens is made with. */
export const REDIS_CONNECTION_SETTINGS = {
  // A command sent while disconnected fails at once (503) instead of waiting in a queue.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  // A command answered with 503 must not be carried out later, when the link heals: a counter would be
  // charged for a request that was refused.
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
  lazyConnect: true,
  keepAlive: 1000,
} satisfies RedisOptions;

/**
 * A connection made from a URL or options with the module's settings, watched by a heartbeat once started; a
 * client of the caller's is used as it is (its settings and health are the caller's).
 */
export function openRedis(
  redis: string | RedisOptions | Redis,
  logger: ThrottledLogger,
): { client: Redis; owned: boolean; heartbeat?: ConnectionHeartbeat } {
  if (redis instanceof Redis) return { client: redis, owned: false };
  const client =
    typeof redis === 'string'
      ? new Redis(redis, REDIS_CONNECTION_SETTINGS)
      : new Redis({ ...redis, ...REDIS_CONNECTION_SETTINGS });
  client.on('error', (error: Error) => logger.warn(`Redis: ${error.message}`));
  return { client, owned: true, heartbeat: new ConnectionHeartbeat(client, logger) };
}

/** A connection for a subscription, made like `client`; commands wait for it to connect rather than fail. */
export function subscriberOf(client: Redis): Redis {
  return client.duplicate({ ...REDIS_CONNECTION_SETTINGS, enableOfflineQueue: true });
}

/**
 * The module's Redis, shared by the instances of an app: one command connection for counters, publications
 * and the denylist, from which each subscription duplicates a connection of its own.
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
    ({
      client: this.client,
      owned: this.owned,
      heartbeat: this.heartbeat,
    } = openRedis(options.connection, this.logger));
    this.keyPrefix = options.keyPrefix ?? 'keybridge:';
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

  /** A connection of its own for a subscription (which cannot share the command connection). */
  duplicate(): Redis {
    return subscriberOf(this.client);
  }

  /** The name of a key or channel under the prefix. */
  key(name: string): string {
    return `${this.keyPrefix}${name}`;
  }

  /** After every subscription and store has stopped (Nest calls it last). */
  onApplicationShutdown(): void {
    this.heartbeat?.stop();
    if (this.owned) this.client.disconnect();
  }
}
