import request from 'supertest';
import { ADAPTERS } from './support/databases.js';
import { startSampleApp, type RunningApp } from './support/sample-app.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';

/** Retries for up to ~10 s while the pool reconnects; returns the last status. */
async function eventuallyStatus(running: RunningApp, key: string): Promise<number> {
  let status = 0;
  for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
    status = (await request(running.url).get('/orders').set('X-API-Key', key)).status;
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return status;
}

const servers = [
  { name: 'postgres', url: process.env.TEST_POSTGRES_URL, type: 'postgres' as const },
  { name: 'mysql', url: process.env.TEST_MYSQL_URL, type: 'mysql' as const },
].filter((s): s is { name: string; url: string; type: 'postgres' | 'mysql' } => Boolean(s.url));

const cases = servers.flatMap((server) =>
  ADAPTERS.map((adapter) => [`${server.name} on ${adapter}`, server, adapter] as const),
);

/**
 * The app is cut off from its database through a TCP proxy (the shared server keeps running): a key that is
 * not cached is answered 503 auth_unavailable, without a stack trace, and 200 again once the link is back.
 */
(cases.length > 0
  ? describe.each(cases)
  : describe.skip.each([['no database server configured', null, 'express'] as const]))(
  'key store outage (%s)',
  (_label, server, adapter) => {
    let proxy: TcpProxy;
    let running: RunningApp;

    beforeAll(async () => {
      const { databaseTargets } = await import('./support/databases.js');
      const target = databaseTargets().find((t) => t.name === server!.name)!;
      const url = await target.fresh();
      proxy = await TcpProxy.startFor(url);
      running = await startSampleApp(adapter, throughProxy(url, proxy.port), { storeTimeout: '1500ms' });
    });

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
      // A cached key still authenticates; the route's own table read then fails, in the same error shape.
      const routeDown = await request(running.url).get('/orders').set('X-API-Key', cached.key).expect(503);
      expect(routeDown.body.code).toBe('database_unavailable');

      await proxy.restore();
      expect(await eventuallyStatus(running, cold.key)).toBe(200);
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
      expect(await eventuallyStatus(running, cold.key)).toBe(200);
    });
  },
);
