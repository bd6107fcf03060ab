import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { ApiKeyModuleOptions, CreatedApiKey } from 'nestjs-keybridge';
import { sqlite } from './support/databases.js';
import { expectAuthUnavailable } from './support/outage.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { startApp, type RunningApp } from './support/app-starter.js';
import { mostAdmittedWithinWindow, timed, type TimedAnswer } from './support/rolling-window.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';

const REDIS_URL = redisTarget();
const LEASE = 5;

/** The units in the sliding log of a key's `default` limit, as Redis holds them. */
async function unitsInLog(prefix: string, keyId: string): Promise<number> {
  const redis = new Redis(REDIS_URL!, { lazyConnect: true });
  await redis.connect();
  try {
    return await redis.zcard(`${prefix}rl:{requests:${keyId}}:default`);
  } finally {
    redis.disconnect();
  }
}

/**
 * The leased mode (README "Rate limits", `rateLimitMode: 'leased'`) and every mode while Redis is cut or
 * stalled, over real HTTP with instances sharing one Redis.
 */
(REDIS_URL ? describe : describe.skip)('leased rate limits, and limits while Redis fails', () => {
  const running: RunningApp[] = [];
  const prefixes: string[] = [];
  const proxies: TcpProxy[] = [];

  afterEach(async () => {
    for (const app of running.splice(0)) await app.close();
    for (const proxy of proxies.splice(0)) await proxy.stop();
    for (const prefix of prefixes.splice(0)) await clearRedisPrefix(REDIS_URL!, prefix);
  });

  /** `count` Fastify instances on one database and one Redis prefix (through `proxy` when given). */
  async function instances(
    count: number,
    keybridge: ApiKeyModuleOptions,
    proxy?: TcpProxy,
  ): Promise<{ apps: RunningApp[]; prefix: string }> {
    const databaseUrl = await sqlite.fresh();
    const prefix = uniqueRedisPrefix();
    prefixes.push(prefix);
    const connection = proxy ? throughProxy(REDIS_URL!, proxy.port) : REDIS_URL!;
    const apps: RunningApp[] = [];
    for (let i = 0; i < count; i++) {
      const app = await startApp('fastify', databaseUrl, {
        storeTimeout: '1s',
        ...keybridge,
        redis: { connection, keyPrefix: prefix, ...(keybridge.redis as object) },
      });
      running.push(app);
      apps.push(app);
    }
    return { apps, prefix };
  }

  async function limitedKey(app: RunningApp, limit: number, window = '1h'): Promise<CreatedApiKey> {
    return app.keys.create({ name: 'leased', scopes: ['orders:read'], rateLimit: { limit, window } });
  }

  it('reserves blocks of the lease in Redis and admits from them locally', async () => {
    const { apps, prefix } = await instances(2, { rateLimitMode: 'leased', rateLimitLease: LEASE });
    const [a, b] = apps;
    const key = await limitedKey(a, 10);
    expect((await timed(a, key)).status).toBe(200);
    // The first request reserved a whole block: the log holds five units for one request served.
    expect(await unitsInLog(prefix, key.id)).toBe(LEASE);
    for (let i = 0; i < 4; i++) expect((await timed(a, key)).status).toBe(200);
    expect(await unitsInLog(prefix, key.id)).toBe(LEASE);
    expect((await timed(a, key)).status).toBe(200);
    expect(await unitsInLog(prefix, key.id)).toBe(2 * LEASE);
    // A holds the rest of the limit in its block: B is refused though A served only six.
    const onB = await timed(b, key);
    expect(onB.status).toBe(429);
    expect(onB.body).toMatchObject({ code: 'rate_limited', limit: 'default', scope: 'key' });
    for (let i = 0; i < 4; i++) expect((await timed(a, key)).status).toBe(200);
    expect((await timed(a, key)).status).toBe(429);
  });

  it('admits at most limit + instances × lease in any window, under load on two instances', async () => {
    const LIMIT = 20;
    const WINDOW_MS = 2000;
    const { apps } = await instances(2, { rateLimitMode: 'leased', rateLimitLease: LEASE });
    const key = await limitedKey(apps[0], LIMIT, '2s');
    const answers: TimedAnswer[] = [];
    const stopAt = Date.now() + 3 * WINDOW_MS + 500;
    // Sixteen clients, eight per instance, each sending as fast as it is answered.
    await Promise.all(
      Array.from({ length: 16 }, async (_, client) => {
        while (Date.now() < stopAt) answers.push(await timed(apps[client % 2], key));
      }),
    );
    const statuses = answers.map((answer) => answer.status);
    const admitted = statuses.filter((status) => status === 200).length;
    const most = mostAdmittedWithinWindow(answers, WINDOW_MS);
    console.log(
      `leased bound: ${answers.length} requests, ${admitted} admitted; most within one window ${most} ` +
        `(limit ${LIMIT}, bound ${LIMIT + 2 * LEASE})`,
    );
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    expect(most).toBeLessThanOrEqual(LIMIT + 2 * LEASE);
    // The limit is still served: at least one limit's worth per window of the run.
    expect(admitted).toBeGreaterThanOrEqual(3 * LIMIT);
  }, 30_000);

  describe.each([['exact'], ['leased']] as const)('%s mode', (mode) => {
    const modeOptions: ApiKeyModuleOptions =
      mode === 'leased' ? { rateLimitMode: 'leased', rateLimitLease: LEASE } : {};

    async function throughProxyApp(extra: ApiKeyModuleOptions = {}) {
      const proxy = await TcpProxy.startFor(REDIS_URL!);
      proxies.push(proxy);
      const { apps } = await instances(1, { ...modeOptions, ...extra }, proxy);
      const limited = await limitedKey(apps[0], 100);
      const unlimited = await apps[0].keys.create({ name: 'unlimited', scopes: ['orders:read'] });
      return { app: apps[0], proxy, limited, unlimited };
    }

    it('fails closed (503) for a limited key when Redis is cut, past what a block already holds', async () => {
      const { app, proxy, limited, unlimited } = await throughProxyApp();
      expect((await timed(app, limited)).status).toBe(200);
      await proxy.cut();
      const answers: TimedAnswer[] = [];
      for (let i = 0; i < LEASE + 2; i++) answers.push(await timed(app, limited));
      const statuses = answers.map((answer) => answer.status);
      // Exact: every request needs Redis. Leased: the block reserved before the cut is spent first.
      const servedFromBlock = mode === 'leased' ? LEASE - 1 : 0;
      expect(statuses).toEqual([
        ...Array(servedFromBlock).fill(200),
        ...Array(LEASE + 2 - servedFromBlock).fill(503),
      ]);
      expectAuthUnavailable(answers[answers.length - 1] as never, [limited.key]);
      expect((await timed(app, unlimited)).status).toBe(200);
      await proxy.restore();
    });

    it.each([['stall'], ['blackhole']] as const)(
      'answers 503 within the store timeout when Redis is reached but does not answer (%s)',
      async (fault) => {
        const { app, proxy, limited } = await throughProxyApp();
        // Spend any block, so the next request must reach Redis.
        for (let i = 0; i < LEASE; i++) expect((await timed(app, limited)).status).toBe(200);
        proxy[fault]();
        const refused = await timed(app, limited);
        expect(refused.status).toBe(503);
        // storeTimeout is 1 s; 2 s more for a loaded machine.
        expect(refused.received - refused.sent).toBeLessThan(3000);
        expect(refused.body).toMatchObject({ code: 'auth_unavailable' });
        await proxy.restore();
      },
    );

    it("counts in this instance's memory with onOutage 'local', still within the limit", async () => {
      const proxy = await TcpProxy.startFor(REDIS_URL!);
      proxies.push(proxy);
      const { apps } = await instances(1, { ...modeOptions, redis: { onOutage: 'local' } as never }, proxy);
      const key = await limitedKey(apps[0], 3);
      await proxy.cut();
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await timed(apps[0], key)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      await proxy.restore();
      await sleep(50);
    });
  });
});
