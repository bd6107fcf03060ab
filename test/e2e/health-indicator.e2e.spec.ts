import request from 'supertest';
import { HealthCheckAppModule } from './apps/health-check.module.js';
import { startApp, type RunningApp } from './support/app-starter.js';
import { describeEachServer, sqlite } from './support/databases.js';
import { until } from './support/outage.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';
import { TEST_PEPPER } from './support/test-secrets.js';

const REDIS_URL = redisTarget();
/** README: every part recovers by itself once its server is back; this leaves room for reconnection back-off. */
const RECOVERY_MS = 15_000;
/** Stale after 2 × poll interval + store timeout; noticed by the next check after that. */
const NOTICE_MS = 15_000;

const STACK_FRAME = /\bat .*\.(js|ts):\d+/;

/** The body Terminus answers for the module's indicator. */
function keybridgeOf(body: unknown): Record<string, unknown> {
  const { info, error } = body as { info?: Record<string, object>; error?: Record<string, object> };
  return { ...(info?.keybridge ?? error?.keybridge) } as Record<string, unknown>;
}

/** Asks `/ready` until the indicator's report has `expected` (or the time runs out), and returns that answer. */
async function untilReport(url: string, expected: Record<string, unknown>) {
  const matches = (body: unknown) => Object.entries(expected).every(([k, v]) => keybridgeOf(body)[k] === v);
  const { last } = await until(
    async () => {
      const res = await request(url).get('/ready');
      return { res, status: matches(res.body) ? 1 : 0 };
    },
    1,
    NOTICE_MS,
  );
  return last.res;
}

function expectNoSecrets(text: string, secrets: string[]): void {
  expect(text).not.toMatch(STACK_FRAME);
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describeEachServer()('Terminus health indicator, database cut off (%s)', (_label, server, adapter) => {
  let proxy: TcpProxy;
  let running: RunningApp;

  beforeAll(async () => {
    const url = await server.fresh();
    proxy = await TcpProxy.startFor(url);
    running = await startApp(
      adapter,
      throughProxy(url, proxy.port),
      { storeTimeout: '1s', denylist: 'database', denylistPollInterval: '500ms' },
      { app: HealthCheckAppModule.forRoot },
    );
  });

  afterAll(async () => {
    await running?.close().catch(() => undefined);
    await proxy?.stop();
  });

  const ready = () => request(running.url).get('/ready');

  it('answers 503 naming the key store and the stale denylist, then 200 once the database is back', async () => {
    const healthy = await ready();
    expect(healthy.status).toBe(200);
    expect(keybridgeOf(healthy.body)).toEqual({ status: 'up', keyStore: 'up', denylist: 'fresh' });

    await proxy.cut();
    // The key store fails the next check; the denylist goes stale once its reads have failed for long enough.
    const report = await untilReport(running.url, { keyStore: 'down', denylist: 'stale' });
    expect(report.status).toBe(503);
    expect(report.body.status).toBe('error');
    expect(keybridgeOf(report.body)).toEqual({
      status: 'down',
      keyStore: 'down',
      denylist: 'stale',
      failed: ['keyStore', 'denylist'],
    });
    expectNoSecrets(report.text, [TEST_PEPPER, server.name === 'postgres' ? 'postgres://' : 'mysql://']);

    await proxy.restore();
    const back = (await until(ready, 200, RECOVERY_MS)).last;
    expect(back.status).toBe(200);
    expect(keybridgeOf(back.body)).toEqual({ status: 'up', keyStore: 'up', denylist: 'fresh' });
  });
});

(REDIS_URL ? describe : describe.skip)('Terminus health indicator, Redis cut off', () => {
  let proxy: TcpProxy;
  let running: RunningApp;
  let prefix: string;

  beforeAll(async () => {
    prefix = uniqueRedisPrefix();
    proxy = await TcpProxy.startFor(REDIS_URL!);
    running = await startApp(
      'express',
      await sqlite.fresh(),
      {
        redis: { connection: throughProxy(REDIS_URL!, proxy.port), keyPrefix: prefix },
        denylist: 'redis',
        storeTimeout: '1s',
      },
      { app: HealthCheckAppModule.forRoot },
    );
  });

  afterAll(async () => {
    await running?.close().catch(() => undefined);
    await proxy?.stop();
    if (prefix) await clearRedisPrefix(REDIS_URL!, prefix);
  });

  const ready = () => request(running.url).get('/ready');

  it('answers 503 naming Redis and the denylist, then 200 once Redis is back', async () => {
    const healthy = (await until(ready, 200, RECOVERY_MS)).last;
    expect(keybridgeOf(healthy.body)).toEqual({
      status: 'up',
      keyStore: 'up',
      denylist: 'fresh',
      redis: 'up',
    });

    await proxy.cut();
    const down = await untilReport(running.url, { redis: 'down', denylist: 'stale' });
    expect(down.status).toBe(503);
    const report = keybridgeOf(down.body);
    expect(report).toMatchObject({ status: 'down', keyStore: 'up', redis: 'down', denylist: 'stale' });
    expect(report.failed).toEqual(['denylist', 'redis']);
    expectNoSecrets(down.text, [TEST_PEPPER, 'redis://']);

    await proxy.restore();
    const back = (await until(ready, 200, RECOVERY_MS)).last;
    expect(back.status).toBe(200);
    expect(keybridgeOf(back.body)).toEqual({ status: 'up', keyStore: 'up', denylist: 'fresh', redis: 'up' });
  });
});
