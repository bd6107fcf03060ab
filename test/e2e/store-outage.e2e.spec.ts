import request from 'supertest';
import { describeEachServer } from './support/databases.js';
import { startApp, type RunningApp } from './support/app-starter.js';
import { until } from './support/outage.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';

/**
 * The app is cut off from its database through a TCP proxy (the shared server keeps running): a key that is
 * not cached is answered 503 auth_unavailable, without a stack trace, and 200 again once the link is back.
 */
describeEachServer()('key store outage (%s)', (_label, server, adapter) => {
  let proxy: TcpProxy;
  let running: RunningApp;

  beforeAll(async () => {
    const url = await server.fresh();
    proxy = await TcpProxy.startFor(url);
    running = await startApp(adapter, throughProxy(url, proxy.port), { storeTimeout: '1500ms' });
  });

  const orders = (key: string) => request(running.url).get('/orders').set('X-API-Key', key);

  afterAll(async () => {
    await running?.close().catch(() => undefined);
    await proxy?.stop();
  });

  it('fails closed with 503 while the database is unreachable and recovers by itself', async () => {
    const cached = await running.keys.create({ name: 'cached', scopes: ['orders:read'] });
    const cold = await running.keys.create({ name: 'cold', scopes: ['orders:read'] });
    await request(running.url).get('/health').expect(200);
    await request(running.url).get('/orders').set('X-API-Key', cached.key).expect(200);

    await proxy.cut();
    const res = await request(running.url).get('/orders').set('X-API-Key', cold.key);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: expect.any(String),
      code: 'auth_unavailable',
    });
    expect(res.text).not.toMatch(/\bat .*\.(js|ts):\d+/);
    expect(res.text).not.toContain(cold.key);
    expect(res.headers['retry-after']).toBe('1');
    expect(running.events).toContainEqual(expect.objectContaining({ type: 'auth.unavailable' }));

    // A mistyped key is refused from its checksum alone: 401, not 503, with the database gone.
    const mistyped = cold.key.slice(0, -7) + (cold.key.at(-7) === 'a' ? 'b' : 'a') + cold.key.slice(-6);
    const refused = await request(running.url).get('/orders').set('X-API-Key', mistyped);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('invalid_api_key');
    // A cached key still authenticates: the guard needs no database read for it.
    await request(running.url).get('/orders').set('X-API-Key', cached.key).expect(200);

    await proxy.restore();
    expect((await until(() => orders(cold.key), 200, 10_000)).last.status).toBe(200);
  });

  it('fails closed with 503 when the database accepts connections but never answers', async () => {
    const cold = await running.keys.create({ name: 'hung', scopes: ['orders:read'] });
    proxy.stall();
    const started = Date.now();
    const res = await request(running.url).get('/orders').set('X-API-Key', cold.key);
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('auth_unavailable');
    expect(Date.now() - started).toBeLessThan(10_000);
    await proxy.restore();
    expect((await until(() => orders(cold.key), 200, 10_000)).last.status).toBe(200);
  });
});
