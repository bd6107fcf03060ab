import type { Cluster, Redis } from 'ioredis';
import { storeCall } from '../common/store-call.util.js';
import type { ThrottledLogger } from '../common/throttled.logger.js';

/** A connection is pinged this often… */
const HEARTBEAT_MS = 1000;
/** …and counts as lost after this long without an answer. */
export const SILENCE_MS = 3000;

/**
 * Keeps a Redis connection honest. A link that a NAT, a load balancer or a dead peer stops carrying emits no
 * socket event, and TCP may take many minutes to notice: every command meanwhile waits for its timeout. The
 * heartbeat pings every second and drops a connection silent for `SILENCE_MS`, so ioredis makes a new one.
 */
export class ConnectionHeartbeat {
  private lastHeard = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private beating = false;
  private stopped = false;

  constructor(
    private readonly connection: Redis | Cluster,
    private readonly logger: ThrottledLogger,
    /** Told before a silent connection is dropped. */
    private readonly onSilent: () => void = () => undefined,
  ) {
    connection.on('connect', () => this.heard());
  }

  start(): void {
    this.timer ??= setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Something arrived on the connection. */
  heard(): void {
    this.lastHeard = performance.now();
  }

  /** Whether nothing has been heard for `SILENCE_MS`. */
  get silent(): boolean {
    return performance.now() - this.lastHeard > SILENCE_MS;
  }

  private async beat(): Promise<void> {
    if (this.stopped || this.beating || this.connection.status !== 'ready') return;
    this.beating = true;
    try {
      await storeCall(SILENCE_MS, () => this.connection.ping());
      this.heard();
    } catch {
      if (!this.stopped && this.silent) {
        this.logger.warn('A Redis connection went silent; reconnecting.');
        this.onSilent();
        this.connection.disconnect(true);
      }
    } finally {
      this.beating = false;
    }
  }
}
