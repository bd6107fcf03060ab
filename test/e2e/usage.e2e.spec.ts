import request from 'supertest';
import { databaseTargets } from './support/databases.js';
import { startApp } from './support/app-starter.js';

/** Usage is counted in memory and written in batches; nothing counted is lost when the app stops. */
describe.each(databaseTargets().map((t) => [t.name, t] as const))('usage counters on %s', (_name, target) => {
  it('are written on shutdown and seen by the next process', async () => {
    const databaseUrl = await target.fresh();
    const first = await startApp('fastify', databaseUrl, { usageFlushInterval: '1h' });
    const { id, key } = await first.keys.create({ name: 'counted', scopes: ['orders:read'] });
    await Promise.all(
      Array.from({ length: 7 }, () => request(first.url).get('/orders').set('X-API-Key', key).expect(200)),
    );
    expect((await first.keys.get(id)).usageCount).toBe(0);
    await first.close();

    const second = await startApp('express', databaseUrl);
    try {
      const stored = await second.keys.get(id);
      expect(stored.usageCount).toBe(7);
      expect(stored.lastUsedAt).toBeInstanceOf(Date);
      expect(Math.abs(stored.lastUsedAt!.getTime() - Date.now())).toBeLessThan(60_000);
    } finally {
      await second.close();
    }
  });
});
