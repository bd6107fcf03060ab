import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { AuthUnavailableError } from '../../../lib/errors/index.js';
import { KeyRateLimiter, type RateLimitDecision } from '../../../lib/limits/key-rate.limiter.js';
import { RedisConnection } from '../../../lib/redis/redis.connection.js';
import type { KeybridgeRedisOptions } from '../../../lib/interfaces/redis-options.interface.js';
import { TcpProxy, throughProxy } from '../../e2e/support/tcp-proxy.js';

const REDIS_URL = process.env.TEST_REDIS_URL || undefined;
const TIMEOUT_MS = 1000;

/** `count` hits in a row, one after the other. */
async function hits(
  limiter: KeyRateLimiter,
  id: string,
  limit: number,
  windowSeconds: number,
  count: number,
) {
  const decisions: RateLimitDecision[] = [];
  for (let i = 0; i < count; i++) decisions.push(await limiter.consume(id, limit, windowSeconds));
  return decisions;
}

const allowed = (decisions: RateLimitDecision[]) => decisions.map((decision) => decision.allowed);
const remaining = (decisions: RateLimitDecision[]) => decisions.map((decision) => decision.remaining);

describe('KeyRateLimiter in memory (no Redis)', () => {
  const limiter = () => new KeyRateLimiter('requests', { timeoutMs: TIMEOUT_MS });

  it('allows `limit` hits per window, then refuses until the window ends', async () => {
    const decisions = await hits(limiter(), 'key_a', 3, 60, 5);
    expect(allowed(decisions)).toEqual([true, true, true, false, false]);
    expect(remaining(decisions)).toEqual([2, 1, 0, 0, 0]);
    for (const decision of decisions) {
      expect(decision.limit).toBe(3);
      expect(decision.resetSeconds).toBeGreaterThan(58);
      expect(decision.resetSeconds).toBeLessThanOrEqual(60);
    }
  });

  it('counts each id on its own', async () => {
    const shared = limiter();
    expect(allowed(await hits(shared, 'key_a', 2, 60, 3))).toEqual([true, true, false]);
    expect(allowed(await hits(shared, 'key_b', 2, 60, 2))).toEqual([true, true]);
    expect(allowed(await hits(shared, 'key_c', 5, 60, 5))).toEqual([true, true, true, true, true]);
  });

  it('keeps counts per limiter: two instances without Redis do not share them', async () => {
    const one = limiter();
    const two = limiter();
    await hits(one, 'key_a', 2, 60, 2);
    expect((await one.consume('key_a', 2, 60)).allowed).toBe(false);
    expect((await two.consume('key_a', 2, 60)).allowed).toBe(true);
  });

  it('starts a new window once the last one has ended', async () => {
    const shared = limiter();
    expect(allowed(await hits(shared, 'key_w', 2, 1, 3))).toEqual([true, true, false]);
    await sleep(1100);
    const next = await shared.consume('key_w', 2, 1);
    expect(next).toMatchObject({ allowed: true, remaining: 1 });
    expect(next.resetSeconds).toBeGreaterThan(0.5);
  });
});

(REDIS_URL ? describe : describe.skip)('KeyRateLimiter on Redis (TEST_REDIS_URL)', () => {
  const url = REDIS_URL!;
  const opened: RedisConnection[] = [];
  const proxies: TcpProxy[] = [];
  const prefixes: string[] = [];

  /** A connection as the module makes it, closed after the test. */
  async function connection(options: Partial<KeybridgeRedisOptions> = {}): Promise<RedisConnection> {
    const keyPrefix = options.keyPrefix ?? `kbtest:${randomUUID()}:`;
    prefixes.push(keyPrefix);
    const redis = new RedisConnection({ connection: url, ...options, keyPrefix }, TIMEOUT_MS);
    opened.push(redis);
    await redis.connect();
    return redis;
  }

  async function proxy(): Promise<TcpProxy> {
    const started = await TcpProxy.startFor(url);
    proxies.push(started);
    return started;
  }

  /** Waits until the connection is ready again after a restore (ioredis backs off up to 1 s). */
  async function ready(redis: RedisConnection): Promise<void> {
    for (let i = 0; i < 50 && redis.client.status !== 'ready'; i++) await sleep(100);
    expect(redis.client.status).toBe('ready');
  }

  afterEach(async () => {
    for (const redis of opened.splice(0)) redis.onApplicationShutdown();
    for (const started of proxies.splice(0)) await started.stop();
    const raw = new Redis(url, { lazyConnect: true });
    await raw.connect();
    try {
      for (const prefix of prefixes.splice(0)) {
        const keys = await raw.keys(`${prefix}*`);
        if (keys.length > 0) await raw.del(...keys);
      }
    } finally {
      raw.disconnect();
    }
  });

  it('shares one count between the instances on one prefix', async () => {
    const keyPrefix = `kbtest:${randomUUID()}:`;
    const a = new KeyRateLimiter('requests', {
      redis: await connection({ keyPrefix }),
      timeoutMs: TIMEOUT_MS,
    });
    const b = new KeyRateLimiter('requests', {
      redis: await connection({ keyPrefix }),
      timeoutMs: TIMEOUT_MS,
    });
    const decisions = [
      await a.consume('key_s', 3, 60),
      await b.consume('key_s', 3, 60),
      await a.consume('key_s', 3, 60),
      await b.consume('key_s', 3, 60),
      await a.consume('key_s', 3, 60),
    ];
    expect(allowed(decisions)).toEqual([true, true, true, false, false]);
    expect(remaining(decisions)).toEqual([2, 1, 0, 0, 0]);
    expect(decisions[3].resetSeconds).toBeGreaterThan(55);
    expect(decisions[3].resetSeconds).toBeLessThanOrEqual(60);
  });

  it('keeps the counts of other prefixes and other namespaces apart', async () => {
    const keyPrefix = `kbtest:${randomUUID()}:`;
    const requests = new KeyRateLimiter('requests', {
      redis: await connection({ keyPrefix }),
      timeoutMs: TIMEOUT_MS,
    });
    const tokens = new KeyRateLimiter('tokens', {
      redis: await connection({ keyPrefix }),
      timeoutMs: TIMEOUT_MS,
    });
    const otherApp = new KeyRateLimiter('requests', { redis: await connection(), timeoutMs: TIMEOUT_MS });
    await hits(requests, 'key_n', 2, 60, 2);
    expect((await requests.consume('key_n', 2, 60)).allowed).toBe(false);
    expect((await tokens.consume('key_n', 2, 60)).allowed).toBe(true);
    expect((await otherApp.consume('key_n', 2, 60)).allowed).toBe(true);
  });

  it('keeps each counter under the prefix, in a hash tag of its own, expiring a window after its last hit', async () => {
    const redis = await connection();
    const limiter = new KeyRateLimiter('requests', { redis, timeoutMs: TIMEOUT_MS });
    await limiter.consume('key_x', 3, 60);
    const raw = new Redis(url, { lazyConnect: true });
    await raw.connect();
    try {
      const keys = await raw.keys(`${redis.keyPrefix}*`);
      expect(keys).toEqual([`${redis.keyPrefix}rl:{requests:key_x}:default`]);
      const ttl = await raw.pttl(keys[0]);
      expect(ttl).toBeGreaterThan(55_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    } finally {
      raw.disconnect();
    }
  });

  it('fails closed with AuthUnavailableError at once when Redis cannot be reached', async () => {
    const down = await proxy();
    await down.cut();
    const redis = new RedisConnection({ connection: throughProxy(url, down.port) }, TIMEOUT_MS);
    opened.push(redis);
    await redis.connect(); // does not throw: ioredis keeps trying in the background
    const limiter = new KeyRateLimiter('requests', { redis, timeoutMs: TIMEOUT_MS });
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      await expect(limiter.consume('key_d', 3, 60)).rejects.toBeInstanceOf(AuthUnavailableError);
      // Not queued until the timeout: a disconnected client refuses the command straight away.
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS / 2);
    }
  });

  it("with onOutage 'local', counts in memory while Redis cannot be reached", async () => {
    const down = await proxy();
    await down.cut();
    const redis = new RedisConnection(
      { connection: throughProxy(url, down.port), onOutage: 'local' },
      TIMEOUT_MS,
    );
    opened.push(redis);
    await redis.connect();
    const limiter = new KeyRateLimiter('requests', { redis, timeoutMs: TIMEOUT_MS });
    const decisions = await hits(limiter, 'key_l', 3, 60, 4);
    expect(allowed(decisions)).toEqual([true, true, true, false]);
    expect(remaining(decisions)).toEqual([2, 1, 0, 0]);
  });

  it("takes the limiter's own onOutage over the connection's (the failed-auth throttle counts locally)", async () => {
    const down = await proxy();
    await down.cut();
    const redis = new RedisConnection({ connection: throughProxy(url, down.port) }, TIMEOUT_MS);
    opened.push(redis);
    await redis.connect();
    expect(redis.onOutage).toBe('fail-closed');
    const local = new KeyRateLimiter('failed-auth', { redis, timeoutMs: TIMEOUT_MS, onOutage: 'local' });
    expect(allowed(await hits(local, '10.0.0.1', 2, 60, 3))).toEqual([true, true, false]);
  });

  it('fails closed within timeoutMs when Redis holds the command without answering', async () => {
    const link = await proxy();
    const redis = await connection({ connection: throughProxy(url, link.port) });
    const limiter = new KeyRateLimiter('requests', { redis, timeoutMs: TIMEOUT_MS });
    await limiter.consume('key_h', 5, 60);
    link.blackhole();
    const started = Date.now();
    await expect(limiter.consume('key_h', 5, 60)).rejects.toBeInstanceOf(AuthUnavailableError);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
  });

  it('counts in Redis again once it is back, with the count made before the outage intact', async () => {
    const link = await proxy();
    const redis = await connection({ connection: throughProxy(url, link.port) });
    const limiter = new KeyRateLimiter('requests', { redis, timeoutMs: TIMEOUT_MS });
    expect((await limiter.consume('key_r', 5, 60)).remaining).toBe(4);
    await link.cut();
    await expect(limiter.consume('key_r', 5, 60)).rejects.toBeInstanceOf(AuthUnavailableError);
    await link.restore();
    await ready(redis);
    expect(await limiter.consume('key_r', 5, 60)).toMatchObject({ allowed: true, remaining: 3 });
  });

  it('does not count a hit that failed on a half-open link once the link is back', async () => {
    const link = await proxy();
    const redis = await connection({ connection: throughProxy(url, link.port) });
    const limiter = new KeyRateLimiter('requests', { redis, timeoutMs: TIMEOUT_MS });
    expect((await limiter.consume('key_q', 5, 60)).remaining).toBe(4);
    link.blackhole();
    // Both are refused (the request gets 503): neither may cost the key a unit later.
    await expect(limiter.consume('key_q', 5, 60)).rejects.toBeInstanceOf(AuthUnavailableError);
    await expect(limiter.consume('key_q', 5, 60)).rejects.toBeInstanceOf(AuthUnavailableError);
    await link.restore();
    await ready(redis);
    await sleep(200);
    expect(await limiter.consume('key_q', 5, 60)).toMatchObject({ allowed: true, remaining: 3 });
  });
});
