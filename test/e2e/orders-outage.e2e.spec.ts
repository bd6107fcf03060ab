import request from 'supertest';
import { describeEachServer } from './support/databases.js';
import { startSampleApp, type RunningApp } from './support/sample-app.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';

/**
 * The sample app's orders routes read its own table: cut off from the database, a request its guard admitted
 * (a cached key) is answered 503 `database_unavailable` by its DatabaseUnavailableFilter, in the library's
 * error shape, instead of Nest's generic 500.
 */
describeEachServer()('orders of the sample app during a database outage (%s)', (_label, server, adapter) => {
  let proxy: TcpProxy;
  let running: RunningApp;

  beforeAll(async () => {
    const url = await server.fresh();
    proxy = await TcpProxy.startFor(url);
    running = await startSampleApp(adapter, throughProxy(url, proxy.port), { storeTimeout: '1500ms' });
  });

  afterAll(async () => {
    await running?.close().catch(() => undefined);
    await proxy?.stop();
  });

  it('answers a cached key 503 database_unavailable while the database is unreachable', async () => {
    const cached = await running.keys.create({ name: 'cached', scopes: ['orders:read'] });
    await request(running.url).get('/health').expect(200);
    await request(running.url).get('/orders').set('X-API-Key', cached.key).expect(200);
    await proxy.cut();
    const routeDown = await request(running.url).get('/orders').set('X-API-Key', cached.key).expect(503);
    expect(routeDown.body.code).toBe('database_unavailable');
    await proxy.restore();
  });
});
