import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { KeyRateLimiter } from '../../../lib/limits/key-rate.limiter.js';
import { LeaseBook } from '../../../lib/limits/limit.lease.js';
import type { LimitCounter, NamedLimit } from '../../../lib/limits/limit.types.js';
import { MemoryLimitStore } from '../../../lib/limits/sliding-window.memory.js';
import { RedisConnection } from '../../../lib/redis/redis.connection.js';

const REDIS_URL = process.env.TEST_REDIS_URL || undefined;

const sliding = (name: string, limit: number, windowSeconds: number): NamedLimit => ({
  name,
  limit,
  windowSeconds,
  policy: 'sliding',
});

describe('MemoryLimitStore on a clock of its own', () => {
  function store() {
    const clock = { now: 1_000_000 };
    return { clock, memory: new MemoryLimitStore(() => clock.now) };
  }
  const one = (limit: NamedLimit) => [{ counterId: 'k', limit }];

  it('admits the whole limit at once, then one unit per unit leaving the window, never more in any window', () => {
    const { clock, memory } = store();
    const limit = sliding('default', 3, 10);
    const admitted: number[] = [];
    // One attempt every 250 ms for 40 s.
    for (let t = 0; t < 40_000; t += 250) {
      clock.now = 1_000_000 + t;
      if (memory.take(one(limit), 1).refused < 0) admitted.push(t);
    }
    for (const start of admitted) {
      expect(admitted.filter((t) => t >= start && t < start + 10_000).length).toBeLessThanOrEqual(3);
    }
    expect(admitted.slice(0, 3)).toEqual([0, 250, 500]);
    // Each unit comes back exactly a window after it was spent.
    expect(admitted.slice(3, 6)).toEqual([10_000, 10_250, 10_500]);
  });

  it('says how long until enough units leave the window for the cost asked', () => {
    const { clock, memory } = store();
    const limit = sliding('default', 5, 10);
    memory.take(one(limit), 2);
    clock.now += 1000;
    memory.take(one(limit), 3);
    clock.now += 1000;
    // Two units are needed: the first two leave 8 s from now; one unit, too.
    expect(memory.take(one(limit), 2)).toMatchObject({ refused: 0, granted: 0, resetMs: [8000] });
    // Three units: the third was spent a second later, so 9 s.
    expect(memory.take(one(limit), 3)).toMatchObject({ refused: 0, resetMs: [9000] });
  });

  it('counts on every limit or on none, and names the one to wait longest for', () => {
    const { clock, memory } = store();
    const both = [
      { counterId: 'k', limit: sliding('burst', 2, 1) },
      { counterId: 'k', limit: sliding('sustained', 3, 60) },
    ];
    expect(memory.take(both, 1).remaining).toEqual([1, 2]);
    expect(memory.take(both, 1).remaining).toEqual([0, 1]);
    expect(memory.take(both, 1)).toMatchObject({ refused: 0, remaining: [0, 1] });
    clock.now += 1000;
    expect(memory.take(both, 1).remaining).toEqual([1, 0]);
    clock.now += 1000;
    // Both refuse a cost of 2 now; sustained keeps the client waiting longest.
    expect(memory.take(both, 2)).toMatchObject({ refused: 1, remaining: [2, 0] });
  });

  it('spaces units of a smooth limit by window / limit, without burst', () => {
    const { clock, memory } = store();
    const smooth = [{ counterId: 'k', limit: { ...sliding('default', 4, 2), policy: 'smooth' as const } }];
    expect(memory.take(smooth, 1).refused).toBe(-1);
    expect(memory.take(smooth, 1)).toMatchObject({ refused: 0, resetMs: [500] });
    clock.now += 499;
    expect(memory.take(smooth, 1).refused).toBe(0);
    clock.now += 1;
    expect(memory.take(smooth, 1).refused).toBe(-1);
  });

  it('grants up to the units wanted when every limit has room (a lease), at least the cost', () => {
    const { memory } = store();
    const limit = sliding('default', 12, 10);
    expect(memory.take(one(limit), 1, 5)).toMatchObject({ granted: 5, remaining: [7] });
    expect(memory.take(one(limit), 1, 5)).toMatchObject({ granted: 5, remaining: [2] });
    expect(memory.take(one(limit), 1, 5)).toMatchObject({ granted: 2, remaining: [0] });
    expect(memory.take(one(limit), 1, 5)).toMatchObject({ refused: 0, granted: 0 });
  });
});

describe('LeaseBook', () => {
  it('reserves one block at a time however many requests wait, and admits from it locally', async () => {
    const book = new LeaseBook(5);
    let reservations = 0;
    const reserve = async (want: number) => {
      reservations++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return {
        decision: {
          allowed: true,
          states: [
            {
              name: 'default',
              scope: 'key' as const,
              policy: 'sliding' as const,
              limit: 100,
              windowSeconds: 60,
              remaining: 100 - want * reservations,
              resetSeconds: 60,
            },
          ],
        },
        granted: want,
      };
    };
    const decisions = await Promise.all(Array.from({ length: 12 }, () => book.take('k', 1, 60_000, reserve)));
    expect(decisions.every((decision) => decision.allowed)).toBe(true);
    expect(reservations).toBe(3);
  });
});

(REDIS_URL ? describe : describe.skip)('KeyRateLimiter.check on Redis (TEST_REDIS_URL)', () => {
  const keyPrefix = `kbtest:${randomUUID()}:`;
  const redis = new RedisConnection({ connection: REDIS_URL!, keyPrefix }, 1000);
  const limiter = new KeyRateLimiter('requests', { redis, timeoutMs: 1000 });

  afterAll(async () => {
    const raw = new Redis(REDIS_URL!);
    const keys = await raw.keys(`${keyPrefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    raw.disconnect();
    redis.onApplicationShutdown();
  });

  const key = (id: string, ...limits: NamedLimit[]): LimitCounter => ({ id, scope: 'key', limits });

  it('checks a key and its owner in one call, all or nothing, naming the owner limit that refused', async () => {
    await redis.connect();
    const owner: LimitCounter = { id: 'subject:acme', scope: 'owner', limits: [sliding('default', 2, 60)] };
    const first = await limiter.check([key('key_1', sliding('default', 5, 60)), owner], 1);
    expect(first.allowed).toBe(true);
    expect(first.states.map((state) => [state.scope, state.remaining])).toEqual([
      ['key', 4],
      ['owner', 1],
    ]);
    await limiter.check([key('key_2', sliding('default', 5, 60)), owner], 1);
    const refused = await limiter.check([key('key_1', sliding('default', 5, 60)), owner], 1);
    expect(refused).toMatchObject({ allowed: false, refused: { scope: 'owner', name: 'default' } });
    // Not counted on the key either.
    const again = await limiter.check([key('key_1', sliding('default', 5, 60))], 1);
    expect(again.states[0].remaining).toBe(3);
  });

  it('refuses a cost above a limit without a round trip or a count', async () => {
    const decision = await limiter.check([key('key_c', sliding('small', 3, 60))], 4);
    expect(decision).toMatchObject({ allowed: false, tooCostly: true, refused: { name: 'small' } });
    expect((await limiter.check([key('key_c', sliding('small', 3, 60))], 3)).allowed).toBe(true);
  });

  it('keeps every limit of a counter under one hash tag', async () => {
    await limiter.check([
      key('key_t', sliding('burst', 3, 1), { ...sliding('even', 3, 1), policy: 'smooth' }),
    ]);
    const raw = new Redis(REDIS_URL!);
    const keys = (await raw.keys(`${keyPrefix}rl:{requests:key_t}:*`)).sort();
    raw.disconnect();
    expect(keys).toEqual([
      `${keyPrefix}rl:{requests:key_t}:burst`,
      `${keyPrefix}rl:{requests:key_t}:even:smooth`,
    ]);
  });
});
