import { Redis } from 'ioredis';
import { storeCall } from '../common/store-call.util.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import { ConnectionHeartbeat } from './connection.heartbeat.js';
import type { KeybridgeRedisOptions, RedisOutagePolicy } from '../interfaces/redis-options.interface.js';
import { DEFAULT_REDIS_PREFIX } from './redis.options.js';
import { isClient, openClient, subscriberFor, usesSentinel, type RedisClient } from './redis.clients.js';

/**
 * One Redis for the module — a lone server, a master found through Sentinel, or a Cluster: a command
 * connection for counters, publications and the denylist, beside which each subscription opens a connection
 * of its own, and so do revocations that wait for replicas (`WAIT` holds its connection, and would hold every
 * counter behind it). A connection the module opens is made with the settings of `redis.options.ts` and
 * watched by a heartbeat; a client of the caller's is used as it is (its settings and its health are the
 * caller's).
 */
export class RedisConnection {
  readonly client: RedisClient;
  readonly keyPrefix: string;
  readonly onOutage: RedisOutagePolicy;
  /** How many replicas must hold a token revocation before it counts as made (`WAIT`). */
  readonly revocationReplicas: number;
  /** Where revocations are written: the command connection, or one of their own when they `WAIT`. */
  readonly writer: RedisClient;
  private readonly owned: boolean;
  private readonly heartbeat: ConnectionHeartbeat | undefined;
  private readonly writerHeartbeat: ConnectionHeartbeat | undefined;
  private readonly logger = new ThrottledLogger('Keybridge');
  private connecting: Promise<void> | undefined;

  constructor(
    options: KeybridgeRedisOptions,
    private readonly timeoutMs: number,
  ) {
    const { connection } = options;
    this.owned = !isClient(connection);
    if (isClient(connection)) this.client = connection;
    else {
      this.client = openClient(connection);
      this.client.on('error', (error: Error) => this.logger.warn(`Redis: ${error.message}`));
      this.heartbeat = new ConnectionHeartbeat(this.client, this.logger);
    }
    this.keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_PREFIX;
    this.onOutage = options.onOutage ?? 'fail-closed';
    this.revocationReplicas = options.revocationReplicas ?? (usesSentinel(this.client) ? 1 : 0);
    this.writer = this.client;
    if (this.revocationReplicas > 0 && this.client instanceof Redis) {
      this.writer = this.client.duplicate();
      this.writer.on('error', (error: Error) => this.logger.warn(`Redis: ${error.message}`));
      this.writerHeartbeat = new ConnectionHeartbeat(this.writer, this.logger);
    }
  }

  /**
   * Connects once, however many callers ask. Redis being down is not an error here: ioredis keeps
   * reconnecting, and until it is back whatever needs Redis fails as its policy says.
   */
  connect(): Promise<void> {
    this.heartbeat?.start();
    this.writerHeartbeat?.start();
    this.connecting ??= storeCall(this.timeoutMs, async () => {
      const waiting = [...new Set([this.client, this.writer])].filter((client) => client.status === 'wait');
      await Promise.all(waiting.map((client) => client.connect()));
    }).catch(() => {
      this.logger.warn('Redis is not reachable at start; retrying in the background.');
    });
    return this.connecting;
  }

  /** A connection of its own for a subscription (which cannot share the command connection). */
  duplicate(): Redis {
    return subscriberFor(this.client);
  }

  /**
   * Resolves once `revocationReplicas` replicas hold every write made so far on `writer` (`WAIT`, on the same
   * connection, so it covers them); rejects when fewer acknowledge within `timeoutMs`. (Not on a Cluster,
   * where the option is refused: a write's node is not a connection of the module's.)
   */
  async replicated(timeoutMs: number): Promise<void> {
    const wanted = this.revocationReplicas;
    if (wanted === 0 || !(this.writer instanceof Redis)) return;
    const acknowledged = await this.writer.wait(wanted, Math.max(1, Math.floor(timeoutMs)));
    if (acknowledged < wanted) {
      throw new Error(`${acknowledged} of ${wanted} Redis replicas acknowledged the write in time`);
    }
  }

  /** The name of a key or channel under the prefix. */
  key(name: string): string {
    return `${this.keyPrefix}${name}`;
  }

  /** Closes what the module opened, after every subscription and store has stopped (Nest calls it last). */
  onApplicationShutdown(): void {
    this.heartbeat?.stop();
    this.writerHeartbeat?.stop();
    if (this.writer !== this.client) this.writer.disconnect();
    if (this.owned) this.client.disconnect();
  }
}
