import type { NamedLimit, StoreAnswer } from './limit.types.js';

/** How often, in checks, idle counters are swept out. */
const SWEEP_EVERY = 10_000;

/**
 * The exact sliding log of one limit in memory: timestamps (ms) with the units spent at each, oldest first.
 * Units spent in the same millisecond share one entry, so a log holds at most `min(limit, window in ms)`
 * entries of two numbers.
 */
class SlidingLog {
  times: number[] = [];
  units: number[] = [];
  head = 0;
  total = 0;

  /** Drops what is older than the window (an entry of time `t` counts in `(t, t + window]`… until `t + window`). */
  prune(now: number, windowMs: number): void {
    const cutoff = now - windowMs;
    while (this.head < this.times.length && this.times[this.head] <= cutoff) {
      this.total -= this.units[this.head];
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.units = this.units.slice(this.head);
      this.head = 0;
    }
  }

  add(now: number, units: number): void {
    const last = this.times.length - 1;
    if (last >= this.head && this.times[last] >= now) this.units[last] += units;
    else {
      this.times.push(now);
      this.units.push(units);
    }
    this.total += units;
  }

  /** Ms until `needed` units have left the window. */
  waitFor(needed: number, now: number, windowMs: number): number {
    let freed = 0;
    for (let i = this.head; i < this.times.length; i++) {
      freed += this.units[i];
      if (freed >= needed) return Math.max(1, this.times[i] + windowMs - now);
    }
    return windowMs;
  }

  oldest(): number | undefined {
    return this.head < this.times.length ? this.times[this.head] : undefined;
  }
}

/** A smooth (GCRA) limit: the theoretical arrival time of the next unit. */
class SmoothClock {
  tat = 0;
}

type LimitTrack = SlidingLog | SmoothClock;

/** One limit of one counter, as the memory store takes it. */
export interface CounterLimit {
  counterId: string;
  limit: NamedLimit;
}

/**
 * The counters of one process: exact sliding logs and GCRA clocks, checked and spent synchronously, so
 * concurrent requests can never both take the last unit. Limits idle for longer than their window are
 * swept out now and then.
 */
export class MemoryLimitStore {
  private readonly tracks = new Map<string, { track: LimitTrack; until: number }>();
  private checks = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Takes `cost` units from every limit, or up to `want` when all of them have room for more (a lease), or
   * nothing when one of them has no room for `cost`.
   */
  take(limits: readonly CounterLimit[], cost: number, want = cost): StoreAnswer {
    const now = this.now();
    if (++this.checks % SWEEP_EVERY === 0) this.sweep(now);
    const tracks = limits.map((entry) => this.trackOf(entry, now));
    let granted = want;
    let refused = -1;
    let refusedWait = 0;
    const waits = limits.map(({ limit }, i) => {
      const windowMs = limit.windowSeconds * 1000;
      const track = tracks[i];
      let wait = 0;
      if (track instanceof SlidingLog) {
        track.prune(now, windowMs);
        const room = limit.limit - track.total;
        if (room < cost) wait = track.waitFor(track.total + cost - limit.limit, now, windowMs);
        else granted = Math.min(granted, room);
      } else {
        granted = Math.min(granted, cost);
        if (track.tat > now) wait = track.tat - now;
      }
      if (wait > refusedWait) {
        refused = i;
        refusedWait = wait;
      }
      return wait;
    });
    if (refused >= 0) granted = 0;
    const remaining: number[] = [];
    const resetMs: number[] = [];
    limits.forEach(({ limit }, i) => {
      const windowMs = limit.windowSeconds * 1000;
      const track = tracks[i];
      if (track instanceof SlidingLog) {
        if (granted > 0) track.add(now, granted);
        remaining.push(Math.max(0, limit.limit - track.total));
        const oldest = track.oldest();
        resetMs.push(waits[i] > 0 ? waits[i] : oldest === undefined ? 0 : oldest + windowMs - now);
      } else {
        if (granted > 0) track.tat = Math.max(track.tat, now) + (granted * windowMs) / limit.limit;
        remaining.push(track.tat <= now ? 1 : 0);
        resetMs.push(Math.max(0, Math.ceil(track.tat - now)));
      }
    });
    return { refused, granted, remaining, resetMs };
  }

  private trackOf({ counterId, limit }: CounterLimit, now: number): LimitTrack {
    const id = `${counterId}\n${limit.name}:${limit.policy}`;
    let entry = this.tracks.get(id);
    if (!entry) {
      entry = { track: limit.policy === 'smooth' ? new SmoothClock() : new SlidingLog(), until: 0 };
      this.tracks.set(id, entry);
    }
    entry.until = now + limit.windowSeconds * 1000;
    return entry.track;
  }

  /** Forgets limits idle for longer than their window: they have emptied. */
  private sweep(now: number): void {
    for (const [id, entry] of this.tracks) if (entry.until <= now) this.tracks.delete(id);
  }
}
