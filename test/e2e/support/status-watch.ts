import { setTimeout as sleep } from 'node:timers/promises';
export interface WatchedResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * Sends a request every `everyMs` until it is answered with `awaited`, and notes when (epoch ms, on receipt)
 * and the answer. Answers other than `meanwhile` and `awaited` are kept in `unexpected` (0: no answer). It
 * gives up once the time given to `stopAfter` has passed, after a minute, or at `StatusWatch.stopAll()`.
 */
export class StatusWatch {
  private static readonly active = new Set<StatusWatch>();

  /** Stops every watch still running, e.g. those of a test that failed before waiting for them (`afterEach`). */
  static stopAll(): Promise<void> {
    const running = [...StatusWatch.active];
    return Promise.all(running.map((watch) => watch.stopAfter(0))).then(() => undefined);
  }

  /** When the awaited answer arrived (epoch ms). */
  seenAt: number | undefined;
  /** The awaited answer. */
  answer: WatchedResponse | undefined;
  /** Statuses other than `meanwhile` and `awaited`, in order. */
  readonly unexpected: number[] = [];
  /** Requests sent. */
  sent = 0;
  readonly done: Promise<void>;
  private stopAt = Date.now() + 60_000;

  constructor(
    send: () => PromiseLike<WatchedResponse>,
    private readonly awaited: number,
    private readonly meanwhile: number,
    private readonly everyMs = 25,
  ) {
    StatusWatch.active.add(this);
    this.done = this.watch(send).finally(() => StatusWatch.active.delete(this));
  }

  /** Resolves once the awaited answer came, or `ms` from now at the latest. */
  stopAfter(ms: number): Promise<void> {
    this.stopAt = Math.min(this.stopAt, Date.now() + ms);
    return this.done;
  }

  /** Milliseconds from `since` to the awaited answer, or `undefined` if it never came. */
  delayFrom(since: number): number | undefined {
    return this.seenAt === undefined ? undefined : this.seenAt - since;
  }

  private async watch(send: () => PromiseLike<WatchedResponse>): Promise<void> {
    while (Date.now() < this.stopAt) {
      let res: WatchedResponse;
      try {
        res = await send();
      } catch {
        res = { status: 0, body: undefined, headers: {} };
      }
      this.sent++;
      if (res.status === this.awaited) {
        this.seenAt = Date.now();
        this.answer = res;
        return;
      }
      if (res.status !== this.meanwhile) this.unexpected.push(res.status);
      await sleep(this.everyMs);
    }
  }
}
