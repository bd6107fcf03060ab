import type { Redis } from 'ioredis';
import { storeCall } from '../common/store-call.util.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import { ConnectionHeartbeat } from './connection.heartbeat.js';

const RESYNC_RETRY_MS = 500;

export interface SubscriptionHandlers {
  /**
   * Runs after every (re)subscription, before the subscription counts as live: catch up on what was
   * published while it was down (messages published meanwhile arrive too, so the two overlap safely).
   */
  resync(): Promise<void>;
  message(message: string): void;
}

/**
 * One Redis channel followed on a connection of its own. It is live only while subscribed, caught up, and
 * heard from within the heartbeat's silence limit (it is pinged every second): a dropped connection, a
 * stalled server or a half-open link all make it not live until it has reconnected and caught up again.
 */
export class RedisSubscription {
  private readonly logger = new ThrottledLogger('Keybridge');
  /** True while subscribed and caught up. */
  private current = false;
  /** Bumped by every (re)sync and every disconnection: only the latest sync may declare the subscription current. */
  private epoch = 0;
  private readonly heartbeat: ConnectionHeartbeat;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connection: Redis,
    private readonly channel: string,
    private readonly timeoutMs: number,
    private readonly handlers: SubscriptionHandlers,
    /** What the subscription is for, in log lines. */
    private readonly purpose: string,
  ) {
    this.heartbeat = new ConnectionHeartbeat(connection, this.logger, () => this.lose());
    connection.on('error', (error: Error) => this.logger.warn(`Redis: ${error.message}`));
    connection.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      this.heartbeat.heard();
      handlers.message(message);
    });
    connection.on('ready', () => void this.resync());
    for (const event of ['close', 'reconnecting', 'end']) connection.on(event, () => this.lose());
  }

  /** Whether every message published since the last sync has been received. */
  get live(): boolean {
    return this.current && !this.heartbeat.silent;
  }

  /** Connects and catches up; when Redis is down, keeps trying in the background and resolves anyway. */
  async start(): Promise<void> {
    this.heartbeat.start();
    try {
      await storeCall(this.timeoutMs, async () => {
        if (this.connection.status === 'wait') await this.connection.connect();
        await this.resync();
      });
    } catch {
      this.logger.warn(`Redis is not reachable at start; ${this.purpose} until it is.`);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.heartbeat.stop();
    this.connection.disconnect();
  }

  /** Subscribes, then catches up: messages published in between are seen by one or the other. */
  private async resync(): Promise<void> {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    const epoch = ++this.epoch;
    this.current = false;
    try {
      await storeCall(this.timeoutMs, async () => {
        await this.connection.subscribe(this.channel);
        await this.handlers.resync();
      });
      if (epoch !== this.epoch) return;
      this.heartbeat.heard();
      this.current = this.connection.status === 'ready';
    } catch (error) {
      if (epoch !== this.epoch) return;
      this.current = false;
      this.logger.warn(`Redis subscription not ready (${(error as Error).message}); retrying.`);
      this.retryTimer = setTimeout(() => void this.resync(), RESYNC_RETRY_MS);
      this.retryTimer.unref();
    }
  }

  /** The connection dropped: whatever a sync in flight finds, nothing is current until the next one. */
  private lose(): void {
    this.epoch++;
    this.current = false;
  }
}
