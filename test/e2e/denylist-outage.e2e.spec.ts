import type { ApiKeyModuleOptions, CreatedApiKey } from 'nestjs-keybridge';
import request from 'supertest';
import { databaseTargets, sqlite } from './support/databases.js';
import { mintToken } from './support/oauth.js';
import {
  expectAuthUnavailable,
  expectTemporarilyUnavailable,
  StatusRecorder,
  until,
} from './support/outage.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { startApp, type RunningApp } from './support/app-starter.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';
import { revokeToken, withToken } from './support/guarded.requests.js';

const REDIS_URL = redisTarget();

/**
 * The app reaches Redis through a TCP proxy the test cuts (the shared server keeps running). While its
 * subscription is down it cannot know of revocations made elsewhere, so it fails closed; it recovers alone.
 */
(REDIS_URL ? describe.each([[REDIS_URL]]) : describe.skip.each([['TEST_REDIS_URL not set']]))(
  'Redis denylist outage (%s)',
  (redisUrl) => {
    let proxy: TcpProxy;
    let prefix: string;
    let databaseUrl: string;
    let running: RunningApp;
    let key: CreatedApiKey;
    let revoked: string;
    let live: string;
    /** A token whose revocation was refused during the outage. */
    let pending: string;

    const optionsThrough = (port: number): ApiKeyModuleOptions => ({
      denylist: { redis: throughProxy(redisUrl, port), keyPrefix: prefix },
      storeTimeout: '1s',
    });

    beforeAll(async () => {
      proxy = await TcpProxy.startFor(redisUrl);
      prefix = uniqueRedisPrefix();
      databaseUrl = await sqlite.fresh();
      running = await startApp('express', databaseUrl, optionsThrough(proxy.port));
      key = await running.keys.create({ name: 'outage', scopes: ['orders:read'] });
      revoked = await mintToken(running.url, key);
      live = await mintToken(running.url, key);
      pending = await mintToken(running.url, key);
      await revokeToken(running, key, revoked).expect(200);
      await withToken(running, revoked).expect(401);
      await withToken(running, live).expect(200);
    });

    afterAll(async () => {
      await running?.close();
      await proxy?.stop();
      await clearRedisPrefix(redisUrl, prefix);
    });

    describe('while the link to Redis is cut', () => {
      let revokedDuringCut: number[];

      beforeAll(async () => {
        // The revoked token is watched from before the cut until the app has noticed it.
        const watcher = new StatusRecorder(() => withToken(running, revoked), 20);
        await proxy.cut();
        const noticed = await until(() => withToken(running, live), 503, 3000);
        revokedDuringCut = await watcher.stop();
        expect(noticed.seen.at(-1)).toBe(503);
        expect(noticed.seen.filter((status) => status !== 200 && status !== 503)).toEqual([]);
      });

      it('answers a bearer request 503 auth_unavailable', async () => {
        expectAuthUnavailable(await withToken(running, live));
        expect(running.events).toContainEqual(expect.objectContaining({ type: 'auth.unavailable' }));
      });

      it('never answers a token revoked before the cut 200 (nor 500): 401, then 503', async () => {
        expect(revokedDuringCut.length).toBeGreaterThan(0);
        expect(revokedDuringCut.filter((status) => status !== 401 && status !== 503)).toEqual([]);
        expectAuthUnavailable(await withToken(running, revoked));
      });

      it('answers POST /oauth/revoke 503 temporarily_unavailable', async () => {
        expectTemporarilyUnavailable(await revokeToken(running, key, pending));
      });

      it('answers POST /oauth/token 503 temporarily_unavailable', async () => {
        const res = await request(running.url)
          .post('/oauth/token')
          .auth(key.id, key.key)
          .type('form')
          .send({ grant_type: 'client_credentials' });
        expectTemporarilyUnavailable(res);
      });

      it('keeps answering an API key: the key table, not the denylist, decides for keys', async () => {
        await request(running.url).get('/orders').set('X-API-Key', key.key).expect(200);
      });

      afterAll(() => proxy.restore());
    });

    describe('once the link is restored', () => {
      it('recovers by itself: bearer requests are answered 200 again within 10 s', async () => {
        const recovered = await until(() => withToken(running, live), 200, 10_000);
        expect(recovered.seen.at(-1)).toBe(200);
        expect(recovered.seen.filter((status) => status !== 200 && status !== 503)).toEqual([]);
      });

      it('still refuses the token revoked before the cut', async () => {
        const res = await withToken(running, revoked).expect(401);
        expect(res.body.code).toBe('invalid_token');
      });

      it('takes the revocation refused during the outage when it is retried', async () => {
        await withToken(running, pending).expect(200);
        await revokeToken(running, key, pending).expect(200);
        await withToken(running, pending).expect(401);
      });
    });

    it('fails closed while Redis accepts connections but never answers, and recovers', async () => {
      await withToken(running, live).expect(200);
      proxy.stall();
      const noticed = await until(() => withToken(running, live), 503, 3000);
      expect(noticed.seen.at(-1)).toBe(503);
      expectAuthUnavailable(await withToken(running, revoked));
      await proxy.restore();
      const recovered = await until(() => withToken(running, live), 200, 10_000);
      expect(recovered.seen.at(-1)).toBe(200);
      expect([...noticed.seen, ...recovered.seen].filter((s) => s !== 200 && s !== 503)).toEqual([]);
      await withToken(running, revoked).expect(401);
    });

    it('fails closed when the subscription goes silent without any socket event (half-open link), and recovers', async () => {
      await withToken(running, live).expect(200);
      proxy.blackhole();
      // Pinged every second, silent after 3 s: the app notices within about 4 s.
      const noticed = await until(() => withToken(running, live), 503, 8000);
      expect(noticed.seen.at(-1)).toBe(503);
      expect(noticed.seen.filter((s) => s !== 200 && s !== 503)).toEqual([]);
      expectAuthUnavailable(await withToken(running, revoked));
      await proxy.restore();
      const recovered = await until(() => withToken(running, live), 200, 10_000);
      expect(recovered.seen.at(-1)).toBe(200);
      await withToken(running, revoked).expect(401);
    });

    it('answers 503 on an instance started while Redis is unreachable, and 200 once it is reachable', async () => {
      const late = await TcpProxy.startFor(redisUrl);
      await late.cut();
      const second = await startApp('express', databaseUrl, optionsThrough(late.port));
      try {
        // Tokens minted by the first instance: same signing key and issuer.
        expectAuthUnavailable(await withToken(second, live));
        expectAuthUnavailable(await withToken(second, revoked));
        await late.restore();
        const recovered = await until(() => withToken(second, live), 200, 10_000);
        expect(recovered.seen.at(-1)).toBe(200);
        // The revocations made before it started are loaded from Redis.
        await withToken(second, revoked).expect(401);
      } finally {
        await second.close();
        await late.stop();
      }
    });
  },
);

const servers = databaseTargets().filter((target) => target.name !== 'sqlite');

/**
 * The database denylist through a TCP proxy in front of the database server: once the table has not been
 * read for `2 × denylistPollInterval + storeTimeout`, bearer requests fail closed; they recover alone.
 */
(servers.length > 0
  ? describe.each(servers.map((target) => [target.name, target] as const))
  : describe.skip.each([['no database server configured', sqlite] as const]))(
  'database denylist outage (%s)',
  (_name, target) => {
    const POLL_MS = 500;
    const STORE_TIMEOUT_MS = 1000;
    const STALE_AFTER_MS = 2 * POLL_MS + STORE_TIMEOUT_MS;
    let proxy: TcpProxy;
    let running: RunningApp;
    let key: CreatedApiKey;
    let revoked: string;
    let live: string;
    let stalledAt: number;

    beforeAll(async () => {
      const url = await target.fresh();
      proxy = await TcpProxy.startFor(url);
      running = await startApp('express', throughProxy(url, proxy.port), {
        denylistPollInterval: `${POLL_MS}ms`,
        storeTimeout: `${STORE_TIMEOUT_MS}ms`,
      });
      key = await running.keys.create({ name: 'outage', scopes: ['orders:read', 'orders:write'] });
      revoked = await mintToken(running.url, key);
      live = await mintToken(running.url, key);
      await revokeToken(running, key, revoked).expect(200);
    });

    afterAll(async () => {
      await running?.close().catch(() => undefined);
      await proxy?.stop();
    });

    /** An order the route refuses once the guard let it through: 400 means the token was admitted. */
    const guardOnly = (token: string) =>
      request(running.url)
        .post('/orders')
        .set('Authorization', `Bearer ${token}`)
        .send({ item: '', quantity: 0 });

    it('keeps admitting tokens from its copy of the denylist just after the database stops answering', async () => {
      expect((await guardOnly(live)).status).toBe(400);
      proxy.stall();
      stalledAt = Date.now();
      const admitted = await guardOnly(live);
      expect(admitted.status).toBe(400);
      expect(admitted.body.code).toBe('invalid_request');
      await guardOnly(revoked).expect(401);
    });

    it('answers bearer requests 503 auth_unavailable once the stall exceeds 2 × poll + storeTimeout', async () => {
      const noticed = await until(() => guardOnly(live), 503, STALE_AFTER_MS + 3000);
      const noticedAt = Date.now();
      console.log(
        `database denylist (${target.name}) stalled: first 503 ${noticedAt - stalledAt} ms after the stall ` +
          `(2 × poll + storeTimeout = ${STALE_AFTER_MS} ms)`,
      );
      expect(noticed.seen.at(-1)).toBe(503);
      expect(noticed.seen.filter((status) => status !== 400 && status !== 503)).toEqual([]);
      expectAuthUnavailable(await guardOnly(live));
    });

    it('answers the token revoked before the stall 503, never 200', async () => {
      expectAuthUnavailable(await guardOnly(revoked));
      expectAuthUnavailable(await withToken(running, revoked));
    });

    it('answers POST /oauth/revoke 503 temporarily_unavailable', async () => {
      expectTemporarilyUnavailable(await revokeToken(running, key, live));
    });

    it('recovers by itself once the database answers again', async () => {
      await proxy.restore();
      const recovered = await until(() => withToken(running, live), 200, 15_000);
      expect(recovered.seen.at(-1)).toBe(200);
      expect(recovered.seen.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    });

    it('still refuses the token revoked before the stall', async () => {
      const res = await withToken(running, revoked).expect(401);
      expect(res.body.code).toBe('invalid_token');
    });
  },
);
