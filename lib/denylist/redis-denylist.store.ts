import { Redis, type RedisOptions } from 'ioredis';
import { AuthUnavailableError } from '../errors.js';
import { storeCall } from '../keys/store-call.util.js';
import { ThrottledLogger } from '../logging/throttled.logger.js';
import { DenylistMirror } from './denylist.mirror.js';
import type { DenylistStore } from './denylist-store.interface.js';

const RELOAD_RETRY_MS = 500;
/** The subscription is pinged this often… */
const HEARTBEAT_MS = 1000;
/** …and counts as lost after this long without an answer (a half-open connection emits no event). */
const SILENCE_MS = 3000;

export interface RedisDenylistOptions {
  /** A `redis://` URL, ioredis options, or a connected client (the store duplicates it; it does not close it). */
  redis: string | RedisOptions | Redis;
  /** Prefix of the sorted set and channel names. Default `keybridge:`. */
  keyPrefix?: string;
}

/**
 * Revocations in Redis, shared by every instance: a sorted set (`<prefix>denylist`, scored by expiry) holds
 * them, and each addition is published on `<prefix>denylist` so other instances learn of it within
 * milliseconds. Each instance mirrors the set in memory, loaded in full whenever its subscription
 * (re)connects. While the subscription is down or silent for `SILENCE_MS`, checks fail closed (503) — a
 * revocation could be missed — and a silent connection is dropped and made again.
 */
export class RedisDenylistStore implements DenylistStore {
  private readonly logger = new ThrottledLogger('Keybridge');
  private readonly mirror = new DenylistMirror();
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly ownsClient: boolean;
  private readonly setKey: string;
  private readonly channel: string;
  /** True while subscribed and loaded: the mirror holds every entry. */
  private current = false;
  /** Bumped by every (re)load and every disconnection: only the latest load may declare the mirror current. */
  private epoch = 0;
  /** When the subscription last answered (monotonic milliseconds). */
  private lastHeard = -Infinity;
  private heartbeat: NodeJS.Timeout | undefined;
  private beating = false;
  private stopped = false;
  private reloadTimer: NodeJS.Timeout | undefined;

  constructor(
    options: RedisDenylistOptions,
    private readonly timeoutMs: number,
    private readonly clock: () => number,
  ) {
    const prefix = options.keyPrefix ?? 'keybridge:';
    this.setKey = `${prefix}denylist`;
    this.channel = `${prefix}denylist`;
    const connection = {
      // A command sent while disconnected fails at once (503) instead of waiting in a queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
      lazyConnect: true,
      keepAlive: 1000,
    } satisfies RedisOptions;
    if (options.redis instanceof Redis) {
      this.client = options.redis;
      this.ownsClient = false;
      this.subscriber = options.redis.duplicate({ ...connection, enableOfflineQueue: true });
    } else {
      this.client =
        typeof options.redis === 'string'
          ? new Redis(options.redis, connection)
          : new Redis({ ...options.redis, ...connection });
      this.ownsClient = true;
      this.subscriber = this.client.duplicate({ enableOfflineQueue: true });
    }
    for (const connection of [this.client, this.subscriber]) {
      connection.on('error', (error: Error) => this.note(`Redis: ${error.message}`));
    }
    this.subscriber.on('message', (channel: string, message: string) => this.receive(channel, message));
    this.subscriber.on('ready', () => void this.reload());
    for (const event of ['close', 'reconnecting', 'end']) {
      this.subscriber.on(event, () => this.lose());
    }
    this.subscriber.on('connect', () => (this.lastHeard = performance.now()));
  }

  async start(): Promise<void> {
    const connect = async (connection: Redis): Promise<void> => {
      if (connection.status === 'wait') await connection.connect();
    };
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
    try {
      await storeCall(this.timeoutMs, async () => {
        await Promise.all([connect(this.client), connect(this.subscriber)]);
        await this.reload();
      });
    } catch {
      // Redis is down at start: checks fail closed until it is back; ioredis keeps reconnecting.
      this.note('Redis is not reachable at start; bearer tokens fail closed with 503 until it is.');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reloadTimer);
    clearInterval(this.heartbeat);
    this.subscriber.disconnect();
    if (this.ownsClient) this.client.disconnect();
  }

  async add(id: string, expiresAtMs: number): Promise<void> {
    const now = this.clock();
    await storeCall(this.timeoutMs, async () => {
      const results = await this.client
        .multi()
        .zadd(this.setKey, String(expiresAtMs), id)
        .zremrangebyscore(this.setKey, '-inf', String(now))
        .publish(this.channel, JSON.stringify([id, expiresAtMs]))
        .exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction was discarded');
    });
    this.mirror.set(id, expiresAtMs);
    this.mirror.prune(now);
  }

  has(id: string, now: number): boolean {
    if (!this.current || performance.now() - this.lastHeard > SILENCE_MS) {
      throw new AuthUnavailableError(new Error('the token denylist in Redis is not reachable'));
    }
    return this.mirror.has(id, now);
  }

  /** Subscribes, then loads the whole set: entries published in between are in one or the other. */
  private async reload(): Promise<void> {
    clearTimeout(this.reloadTimer);
    if (this.stopped) return;
    const epoch = ++this.epoch;
    this.current = false;
    try {
      await storeCall(this.timeoutMs, async () => {
        await this.subscriber.subscribe(this.channel);
        const now = this.clock();
        const flat = await this.client.zrangebyscore(this.setKey, `(${now}`, '+inf', 'WITHSCORES');
        for (let i = 0; i < flat.length; i += 2) this.mirror.set(flat[i], Number(flat[i + 1]));
        this.mirror.prune(now);
      });
      if (epoch !== this.epoch) return;
      this.lastHeard = performance.now();
      this.current = this.subscriber.status === 'ready';
    } catch (error) {
      if (epoch !== this.epoch) return;
      this.current = false;
      this.note(`Redis denylist not loaded (${(error as Error).message}); retrying.`);
      this.reloadTimer = setTimeout(() => void this.reload(), RELOAD_RETRY_MS);
      this.reloadTimer.unref();
    }
  }

  /** The subscription dropped: whatever a load in flight finds, the mirror is not current until the next one. */
  private lose(): void {
    this.epoch++;
    this.current = false;
  }

  /** Pings the subscription; one silent for `SILENCE_MS` is dropped and reconnected (then reloaded). */
  private async beat(): Promise<void> {
    if (this.stopped || this.beating || this.subscriber.status !== 'ready') return;
    this.beating = true;
    try {
      await storeCall(SILENCE_MS, () => this.subscriber.ping());
      this.lastHeard = performance.now();
    } catch {
      if (!this.stopped && performance.now() - this.lastHeard > SILENCE_MS) {
        this.note('The Redis denylist subscription went silent; reconnecting.');
        this.lose();
        this.subscriber.disconnect(true);
      }
    } finally {
      this.beating = false;
    }
  }

  private receive(channel: string, message: string): void {
    if (channel !== this.channel) return;
    this.lastHeard = performance.now();
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

  private note(message: string): void {
    this.logger.warn(message);
  }
}
