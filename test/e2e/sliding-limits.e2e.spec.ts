import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiKeyModuleOptions, CreatedApiKey } from 'nestjs-keybridge';
import { sqlite } from './support/databases.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { startApp, type AdapterName, type RunningApp } from './support/app-starter.js';
import { mostAdmittedWithinWindow, timed, type TimedAnswer } from './support/rolling-window.js';

const REDIS_URL = redisTarget();

/** Where a suite counts: each instance's memory, or one Redis for all. */
const STORES: [string][] = [['memory'], ...(REDIS_URL ? [['redis'] as [string]] : [])];

/**
 * Exact sliding windows over real HTTP (README "Rate limits"): no interval of the window admits more than the
 * limit, across instances and window boundaries; concurrent requests take exactly the limit; costs, named
 * limits and the smooth policy answer with the limit that refused and truthful headers.
 */
describe.each(STORES)('exact sliding-window rate limits (%s)', (store) => {
  const running: RunningApp[] = [];
  const prefixes: string[] = [];

  afterEach(async () => {
    for (const app of running.splice(0)) await app.close();
    for (const prefix of prefixes.splice(0)) await clearRedisPrefix(REDIS_URL!, prefix);
  });

  /** `count` instances on one database (and one Redis prefix when the store is Redis). */
  async function instances(
    count: number,
    keybridge: ApiKeyModuleOptions = {},
    adapter: AdapterName = 'fastify',
  ): Promise<RunningApp[]> {
    const databaseUrl = await sqlite.fresh();
    const options: ApiKeyModuleOptions = { ...keybridge };
    if (store === 'redis') {
      const keyPrefix = uniqueRedisPrefix();
      prefixes.push(keyPrefix);
      options.redis = { connection: REDIS_URL!, keyPrefix };
    }
    const apps: RunningApp[] = [];
    for (let i = 0; i < count; i++) {
      const app = await startApp(adapter, databaseUrl, options);
      running.push(app);
      apps.push(app);
    }
    return apps;
  }

  it('admits at most the limit in any interval of the window, across instances and window edges', async () => {
    const LIMIT = 5;
    const WINDOW_MS = 2000;
    // Two instances share the limit through Redis; in memory each has its own, so one is probed.
    const apps = await instances(store === 'redis' ? 2 : 1);
    const [a, b] = [apps[0], apps[apps.length - 1]];
    const key = await a.keys.create({
      name: 'probed',
      scopes: ['orders:read'],
      rateLimit: { limit: LIMIT, window: '2s' },
    });
    const answers: TimedAnswer[] = [];
    const started = Date.now();
    /** A burst of `count` concurrent requests, spread over A and B, `atMs` after the start. */
    const burst = async (atMs: number, count: number) => {
      await sleep(Math.max(0, started + atMs - Date.now()));
      const sent = await Promise.all(
        Array.from({ length: count }, (_, i) => timed(i % 2 === 0 ? a : b, key)),
      );
      answers.push(...sent);
    };
    // One request opens a fixed window; the rest of the limit comes just before that window would end, the
    // next burst just after it: a fixed window admits 2 × limit − 1 within half a second there.
    await burst(0, 1);
    await burst(WINDOW_MS - 400, LIMIT - 1);
    await burst(WINDOW_MS + 100, LIMIT);
    await burst(WINDOW_MS + 600, LIMIT);
    await burst(2 * WINDOW_MS - 300, LIMIT);
    await burst(2 * WINDOW_MS + 150, LIMIT);
    await burst(3 * WINDOW_MS - 200, LIMIT);
    await burst(3 * WINDOW_MS + 200, LIMIT);
    const admitted = answers.filter((answer) => answer.status === 200).length;
    console.log(
      `rolling-window probe: ${admitted} of ${answers.length} admitted over ${Date.now() - started} ms; ` +
        `most within one window: ${mostAdmittedWithinWindow(answers, WINDOW_MS)} (limit ${LIMIT})`,
    );
    expect(mostAdmittedWithinWindow(answers, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
    // The whole limit is usable at once, and again once the window has passed.
    expect(answers.slice(0, LIMIT).every((answer) => answer.status === 200)).toBe(true);
    expect(admitted).toBeGreaterThan(2 * LIMIT);
    expect(answers.map((answer) => answer.status).filter((s) => s !== 200 && s !== 429)).toEqual([]);
  }, 30_000);

  it('admits exactly the limit of 200 concurrent requests (two instances share it on Redis)', async () => {
    const LIMIT = 37;
    const apps = await instances(store === 'redis' ? 2 : 1);
    const key = await apps[0].keys.create({
      name: 'crowded',
      scopes: ['orders:read'],
      rateLimit: { limit: LIMIT, window: '1m' },
    });
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => timed(apps[i % apps.length], key)),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((status) => status === 429)).toHaveLength(200 - LIMIT);
    for (const refused of answers.filter((answer) => answer.status === 429)) {
      expect(refused.body).toMatchObject({ code: 'rate_limited', limit: 'default', scope: 'key' });
      // The oldest unit leaves the window a minute after it was spent.
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(50);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    }
  }, 30_000);

  it('spends the cost of an @Cost(5) route on the key, and refuses a cost above a limit outright', async () => {
    const [app] = await instances(1, {}, 'express');
    const key = await app.keys.create({
      name: 'exporter',
      scopes: ['orders:read'],
      rateLimit: { limit: 12, window: '1m' },
    });
    const first = await timed(app, key, 'post', '/orders/export');
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-remaining']).toBe('7');
    expect(first.headers['ratelimit-policy']).toBe('"default";q=12;w=60');
    expect(first.headers['ratelimit']).toMatch(/^"default";r=7;t=(59|60)$/);
    expect((await timed(app, key, 'post', '/orders/export')).status).toBe(200);
    // Two units are left: another export (5) is refused, two plain reads (1 each) are admitted.
    const third = await timed(app, key, 'post', '/orders/export');
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ code: 'rate_limited', limit: 'default', scope: 'key' });
    expect(third.headers['ratelimit-remaining']).toBe('2');
    expect((await timed(app, key)).status).toBe(200);
    expect((await timed(app, key)).status).toBe(200);
    expect((await timed(app, key)).status).toBe(429);

    const small = await app.keys.create({
      name: 'too small to export',
      scopes: ['orders:read'],
      rateLimit: { limit: 4, window: '1m' },
    });
    const refused = await timed(app, small, 'post', '/orders/export');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'rate_limited', limit: 'default', scope: 'key' });
    expect(refused.body.message).toMatch(/costs more than the rate limit "default" allows/);
    // Nothing was counted: the key's whole limit is still there.
    const read = await timed(app, small);
    expect(read.status).toBe(200);
    expect(read.headers['ratelimit-remaining']).toBe('3');
  });

  it('applies every named limit, names the one that refused, and reports them all in the draft headers', async () => {
    const [app] = await instances(1);
    const key = await app.keys.create({
      name: 'two limits',
      scopes: ['orders:read'],
      rateLimits: { burst: { limit: 3, window: '3s' }, sustained: { limit: 5, window: '1h' } },
    });
    expect((await app.keys.get(key.id)).rateLimits).toEqual({
      burst: { limit: 3, windowSeconds: 3 },
      sustained: { limit: 5, windowSeconds: 3600 },
    });
    const quick = [
      await timed(app, key),
      await timed(app, key),
      await timed(app, key),
      await timed(app, key),
    ];
    expect(quick.map((answer) => answer.status)).toEqual([200, 200, 200, 429]);
    expect(quick[0].headers['ratelimit-policy']).toBe('"burst";q=3;w=3, "sustained";q=5;w=3600');
    expect(quick[0].headers['ratelimit']).toMatch(/^"burst";r=2;t=[23], "sustained";r=4;t=(3599|3600)$/);
    // The compatible headers follow the binding limit: the one with the fewest units left.
    expect(quick[2].headers['ratelimit-limit']).toBe('3');
    expect(quick[2].headers['ratelimit-remaining']).toBe('0');
    expect(quick[3].body).toMatchObject({ code: 'rate_limited', limit: 'burst', scope: 'key' });
    expect(quick[3].body.message).toMatch(/limit "burst"/);
    expect(quick[3].headers['retry-after']).toMatch(/^[123]$/);

    await sleep(3100);
    const later = [await timed(app, key), await timed(app, key), await timed(app, key)];
    expect(later.map((answer) => answer.status)).toEqual([200, 200, 429]);
    expect(later[2].body).toMatchObject({ code: 'rate_limited', limit: 'sustained', scope: 'key' });
    expect(Number(later[2].headers['retry-after'])).toBeGreaterThan(3500);
    expect(later[2].headers['ratelimit-limit']).toBe('5');
    expect(later[2].headers['ratelimit']).toMatch(/"sustained";r=0;t=\d+$/);
  });

  it('spaces requests evenly under the smooth policy: no burst, one unit every window / limit (1 s here)', async () => {
    const [app] = await instances(1, {}, 'express');
    const key = await app.keys.create({
      name: 'smooth',
      scopes: ['orders:read'],
      rateLimit: { limit: 2, window: '2s', policy: 'smooth' },
    });
    const first = await timed(app, key);
    const second = await timed(app, key);
    expect([first.status, second.status]).toEqual([200, 429]);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.body).toMatchObject({ code: 'rate_limited', limit: 'default' });
    await sleep(1100);
    expect((await timed(app, key)).status).toBe(200);
    // Paced at one every 1.1 s (more than 1 s apart whatever the delays), every request is admitted.
    const paced: number[] = [];
    for (let i = 0; i < 4; i++) {
      await sleep(1100);
      paced.push((await timed(app, key)).status);
    }
    expect(paced).toEqual([200, 200, 200, 200]);
  });

  it('takes named default limits from the module for keys without their own', async () => {
    const [app] = await instances(1, {
      rateLimits: { perSecond: { limit: 2, window: '1s' }, perMinute: { limit: 50, window: '1m' } },
    });
    const key = await app.keys.create({ name: 'defaults', scopes: ['orders:read'] });
    const answers = [await timed(app, key), await timed(app, key), await timed(app, key)];
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 429]);
    expect(answers[2].body).toMatchObject({ limit: 'perSecond', scope: 'key' });
    expect(answers[0].headers['ratelimit-policy']).toBe('"perSecond";q=2;w=1, "perMinute";q=50;w=60');
  });
});

describe('rate limit settings of a key', () => {
  let app: RunningApp;
  let key: CreatedApiKey;

  beforeAll(async () => {
    app = await startApp('express', await sqlite.fresh());
    key = await app.keys.create({ name: 'settings', scopes: ['orders:read'] });
  });
  afterAll(() => app.close());

  it('switches between one limit and named ones, and refuses bad names, policies and both at once', async () => {
    await app.keys.update(key.id, { rateLimits: { burst: { limit: 2, window: '1s', policy: 'smooth' } } });
    expect(await app.keys.get(key.id)).toMatchObject({
      rateLimit: null,
      rateLimits: { burst: { limit: 2, windowSeconds: 1, policy: 'smooth' } },
    });
    await app.keys.update(key.id, { rateLimit: { limit: 9, window: '1m' } });
    expect(await app.keys.get(key.id)).toMatchObject({
      rateLimit: { limit: 9, windowSeconds: 60 },
      rateLimits: null,
    });
    await expect(
      app.keys.update(key.id, { rateLimits: { 'no spaces': { limit: 1, window: '1s' } } }),
    ).rejects.toThrow(/rateLimits name "no spaces"/);
    await expect(
      app.keys.update(key.id, { rateLimit: { limit: 1, window: '1s', policy: 'leaky' as never } }),
    ).rejects.toThrow(/policy/);
    await expect(
      app.keys.update(key.id, {
        rateLimit: { limit: 1, window: '1s' },
        rateLimits: { burst: { limit: 1, window: '1s' } },
      }),
    ).rejects.toThrow(/not both/);
  });
});
