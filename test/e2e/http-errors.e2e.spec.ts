import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { generateKey, type CreatedApiKey } from 'nestjs-keybridge';
import type { ObjectLiteral, Repository } from 'typeorm';
import { API_KEY_REPOSITORY } from '../../lib/api-key.internal-constants.js';
import { targetMatrix } from './support/databases.js';
import { rawRequest } from './support/raw-http.js';
import { startApp, type RunningApp } from './support/app-starter.js';

/** Every row of the error table (README, "Presenting a key"), over real HTTP, on each database and both adapters. */
describe.each(targetMatrix())('HTTP errors (%s)', (_label, database, adapter) => {
  let running: RunningApp;
  let reader: CreatedApiKey;

  beforeAll(async () => {
    running = await startApp(adapter, await database.fresh());
    reader = await running.keys.create({ name: 'reader', scopes: ['orders:read'], subject: 'app:reader' });
  });

  afterAll(async () => {
    await running.close();
  });

  const http = () => request(running.url);

  function expectBody(body: unknown, statusCode: number, code: string, extra: object = {}): void {
    expect(body).toEqual({
      statusCode,
      error: expect.any(String),
      message: expect.any(String),
      code,
      ...extra,
    });
  }

  describe('a valid key', () => {
    it('opens the route its scopes allow and attaches the principal', async () => {
      const res = await http().get('/orders').set('X-API-Key', reader.key).expect(200);
      expect(res.body).toEqual({ orders: [] });
    });

    it('works whatever the case of the header name', async () => {
      await http().get('/orders').set('x-api-key', reader.key).expect(200);
      await http().get('/orders').set('X-API-KEY', reader.key).expect(200);
    });

    it('reads back every setting of a stored key on a cache miss', async () => {
      const created = await running.keys.create({
        name: 'full',
        subject: 'team:ops',
        scopes: ['orders:read', 'reports:*'],
        metadata: { team: 'ops', tier: 2, tags: ['a', 'b'] },
        expiresIn: '1h',
        environment: 'test',
      });
      const result = await running.keys.verify(created.key);
      expect(result).toEqual({
        valid: true,
        keyId: created.id,
        principal: {
          type: 'api_key',
          keyId: created.id,
          subject: 'team:ops',
          name: 'full',
          environment: 'test',
          scopes: ['orders:read', 'reports:*'],
          metadata: { team: 'ops', tier: 2, tags: ['a', 'b'] },
        },
      });
      expect(created.key.startsWith('kb_test_')).toBe(true);
    });

    it('lets a route marked @Public() through without a credential', async () => {
      await http().get('/health').expect(200, { status: 'ok' });
    });
  });

  describe('401 missing_credentials', () => {
    it('answers a request without the header', async () => {
      const res = await http().get('/orders').expect(401);
      expectBody(res.body, 401, 'missing_credentials');
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="api", resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource", scope="orders:read", ApiKey realm="api", header="X-API-Key"',
      );
    });

    it('treats an empty header as no credential', async () => {
      const res = await rawRequest(running.port, 'GET /orders HTTP/1.1\r\nHost: x\r\nX-API-Key: ');
      expect(res.status).toBe(401);
      expectBody(JSON.parse(res.body), 401, 'missing_credentials');
      expect(res.headers['www-authenticate']).toContain('ApiKey');
    });
  });

  describe('401 invalid_api_key', () => {
    const refusedBodies: string[] = [];

    async function expectRefused(res: {
      status: number;
      headers: Record<string, string>;
      text?: string;
      body: unknown;
    }) {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="api", resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource", scope="orders:read", ApiKey realm="api", header="X-API-Key"',
      );
      const text = typeof res.body === 'string' ? res.body : (res.text ?? JSON.stringify(res.body));
      expectBody(JSON.parse(text), 401, 'invalid_api_key');
      refusedBodies.push(text);
      return text;
    }

    it('refuses a key with one character changed, before any database read', async () => {
      const index = 20;
      const changed =
        reader.key.slice(0, index) + (reader.key[index] === 'A' ? 'B' : 'A') + reader.key.slice(index + 1);
      const res = await http().get('/orders').set('X-API-Key', changed);
      await expectRefused(res);
      expect(running.events).toContainEqual(
        expect.objectContaining({ type: 'auth.failed', reason: 'bad_checksum' }),
      );
    });

    it('refuses a well-formed key that was never issued', async () => {
      const res = await http().get('/orders').set('X-API-Key', generateKey('kb_live_'));
      await expectRefused(res);
      expect(running.events).toContainEqual(
        expect.objectContaining({ type: 'auth.failed', reason: 'unknown' }),
      );
    });

    it('refuses a key of another prefix and garbage', async () => {
      await expectRefused(await http().get('/orders').set('X-API-Key', generateKey('sk_live_')));
      await expectRefused(await http().get('/orders').set('X-API-Key', 'hunter2'));
    });

    it('refuses a 15 KiB value', async () => {
      await expectRefused(
        await http()
          .get('/orders')
          .set('X-API-Key', 'a'.repeat(15 * 1024)),
      );
    });

    it('refuses non-ASCII bytes in the header', async () => {
      const head = Buffer.concat([
        Buffer.from('GET /orders HTTP/1.1\r\nHost: x\r\nX-API-Key: kb_live_'),
        Buffer.from([0xc3, 0xa9, 0xff, 0x80]),
        Buffer.from(reader.key.slice(12)),
      ]);
      const res = await rawRequest(running.port, head);
      expect(res.status).toBe(401);
      expectBody(JSON.parse(res.body), 401, 'invalid_api_key');
    });

    it('refuses two X-API-Key headers rather than picking one', async () => {
      const res = await rawRequest(
        running.port,
        `GET /orders HTTP/1.1\r\nHost: x\r\nX-API-Key: ${reader.key}\r\nX-API-Key: ${reader.key}`,
      );
      expect(res.status).toBe(401);
      expectBody(JSON.parse(res.body), 401, 'invalid_api_key');
      expect(res.body).not.toContain(reader.key);
    });

    it('refuses an expired key', async () => {
      const key = await running.keys.create({ name: 'short', scopes: ['orders:read'], expiresIn: '1h' });
      await http().get('/orders').set('X-API-Key', key.key).expect(200);
      running.clock.now += 2 * 3_600_000;
      try {
        await expectRefused(await http().get('/orders').set('X-API-Key', key.key));
        expect(running.events).toContainEqual(
          expect.objectContaining({ type: 'auth.failed', reason: 'expired', keyId: key.id }),
        );
      } finally {
        running.clock.now -= 2 * 3_600_000;
      }
    });

    it('refuses a revoked key at once, even while it is cached', async () => {
      const key = await running.keys.create({ name: 'doomed', scopes: ['orders:read'] });
      await http().get('/orders').set('X-API-Key', key.key).expect(200);
      await running.keys.revoke(key.id, 'leaked');
      await expectRefused(await http().get('/orders').set('X-API-Key', key.key));
      expect(running.events).toContainEqual(
        expect.objectContaining({ type: 'auth.failed', reason: 'revoked', keyId: key.id }),
      );
    });

    it('never lets a read that raced a revocation put the key back in the cache', async () => {
      for (let round = 0; round < 10; round++) {
        const key = await running.keys.create({ name: `race ${round}`, scopes: ['orders:read'] });
        const inFlight = Promise.resolve(running.keys.authenticate(key.key)).catch(() => undefined);
        await running.keys.revoke(key.id);
        await inFlight;
        await expectRefused(await http().get('/orders').set('X-API-Key', key.key));
      }
    });

    it('never answers a request made after a change with a read that started before it', async () => {
      const key = await running.keys.create({ name: 'slow read', scopes: ['orders:read'] });
      // The first key-table lookup from now on reads the row, then is held back before it answers: a stale
      // read in flight while the key changes.
      const repository = running.app.get<Repository<ObjectLiteral>>(API_KEY_REPOSITORY);
      const query = repository.query.bind(repository);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let held = false;
      repository.query = (async (...args: Parameters<typeof query>) => {
        const rows: unknown = await query(...args);
        if (!held) {
          held = true;
          await gate;
        }
        return rows;
      }) as typeof query;
      try {
        const before = http()
          .get('/orders')
          .set('X-API-Key', key.key)
          .then((res) => res.status);
        for (let i = 0; i < 200 && !held; i++) await sleep(10);
        expect(held).toBe(true);
        await running.keys.disable(key.id);
        const after = http()
          .get('/orders')
          .set('X-API-Key', key.key)
          .then((res) => res.status);
        await sleep(100);
        release();
        expect(await before).toBe(200); // it was sent before the change
        expect(await after).toBe(401);
      } finally {
        release();
        repository.query = query;
      }
    });

    it('gives unknown, mistyped, expired and revoked keys byte-identical bodies', () => {
      expect(refusedBodies.length).toBeGreaterThanOrEqual(5);
      expect(new Set(refusedBodies).size).toBe(1);
    });
  });

  describe('403 insufficient_scope', () => {
    it('names the missing scopes', async () => {
      const res = await http()
        .post('/orders')
        .set('X-API-Key', reader.key)
        .send({ item: 'tea', quantity: 2 })
        .expect(403);
      expectBody(res.body, 403, 'insufficient_scope');
      expect(res.body.message).toContain('orders:write');
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="api", error="insufficient_scope", resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource", scope="orders:write", ApiKey realm="api", header="X-API-Key"',
      );
    });

    it('accepts a wildcard scope for every scope under it', async () => {
      const all = await running.keys.create({ name: 'all orders', scopes: ['orders:*'], subject: 'app:all' });
      await http().post('/orders').set('X-API-Key', all.key).send({ item: 'tea', quantity: 2 }).expect(201);
      const res = await http().get('/orders').set('X-API-Key', all.key).expect(200);
      expect(res.body.orders).toEqual([
        expect.objectContaining({ item: 'tea', quantity: 2, placedBy: 'app:all' }),
      ]);
    });

    it('emits one audit event per refusal of a cached key', async () => {
      await http().get('/orders').set('X-API-Key', reader.key).expect(200);
      const before = running.events.filter(
        (e) => e.type === 'auth.failed' && e.reason === 'insufficient_scope',
      ).length;
      await http()
        .post('/orders')
        .set('X-API-Key', reader.key)
        .send({ item: 'tea', quantity: 1 })
        .expect(403);
      const after = running.events.filter(
        (e) => e.type === 'auth.failed' && e.reason === 'insufficient_scope',
      );
      expect(after.length).toBe(before + 1);
      expect(after.at(-1)).toEqual(expect.objectContaining({ keyId: reader.id }));
    });

    it('needs every scope of class and handler', async () => {
      const admin = await running.keys.create({ name: 'admin', scopes: ['keys:admin'] });
      await http().get('/orders').set('X-API-Key', admin.key).expect(403);
      await http().get('/keys').set('X-API-Key', reader.key).expect(403);
      await http().get('/keys').set('X-API-Key', admin.key).expect(200);
    });
  });

  describe('403 forbidden_origin', () => {
    it('refuses an address outside the key allow-list and accepts one inside', async () => {
      const elsewhere = await running.keys.create({
        name: 'office',
        scopes: ['orders:read'],
        allowedIps: ['10.0.0.0/8', '2001:db8::/32'],
      });
      const res = await http().get('/orders').set('X-API-Key', elsewhere.key).expect(403);
      expectBody(res.body, 403, 'forbidden_origin');
      const local = await running.keys.create({
        name: 'local',
        scopes: ['orders:read'],
        allowedIps: ['127.0.0.0/8', '::1'],
      });
      await http().get('/orders').set('X-API-Key', local.key).expect(200);
    });

    it('ignores X-Forwarded-For when no proxy is trusted', async () => {
      const elsewhere = await running.keys.create({
        name: 'office2',
        scopes: ['orders:read'],
        allowedIps: ['10.1.2.3'],
      });
      await http()
        .get('/orders')
        .set('X-API-Key', elsewhere.key)
        .set('X-Forwarded-For', '10.1.2.3')
        .expect(403);
    });

    it('checks the referrer allow-list against Origin or Referer', async () => {
      const web = await running.keys.create({
        name: 'web',
        scopes: ['orders:read'],
        allowedReferrers: ['*.example.com'],
      });
      const res = await http().get('/orders').set('X-API-Key', web.key).expect(403);
      expectBody(res.body, 403, 'forbidden_origin');
      await http().get('/orders').set('X-API-Key', web.key).set('Origin', 'https://evil.test').expect(403);
      await http()
        .get('/orders')
        .set('X-API-Key', web.key)
        .set('Origin', 'https://shop.example.com')
        .expect(200);
      await http()
        .get('/orders')
        .set('X-API-Key', web.key)
        .set('Referer', 'https://app.example.com/cart')
        .expect(200);
    });
  });

  describe('429 rate_limited and quota_exhausted', () => {
    it('answers a key over its rate limit with 429, Retry-After and RateLimit headers, never 401', async () => {
      const limited = await running.keys.create({
        name: 'limited',
        scopes: ['orders:read'],
        rateLimit: { limit: 2, window: '1m' },
      });
      const first = await http().get('/orders').set('X-API-Key', limited.key).expect(200);
      expect(first.headers['ratelimit-limit']).toBe('2');
      expect(first.headers['ratelimit-remaining']).toBe('1');
      await http().get('/orders').set('X-API-Key', limited.key).expect(200);
      const res = await http().get('/orders').set('X-API-Key', limited.key).expect(429);
      // The body names the limit that refused and whose it is (additive to the usual four fields).
      expect(res.body).toEqual({
        statusCode: 429,
        error: expect.any(String),
        message: expect.any(String),
        code: 'rate_limited',
        limit: 'default',
        scope: 'key',
      });
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(res.headers['ratelimit-remaining']).toBe('0');
      expect(running.events).toContainEqual(
        expect.objectContaining({ type: 'auth.rate_limited', keyId: limited.id, limit: 'rate' }),
      );
    });

    it('answers a key whose quota is used up with 429 quota_exhausted', async () => {
      const metered = await running.keys.create({
        name: 'metered',
        scopes: ['orders:read'],
        remaining: 2,
        quotaRefill: { amount: 2, interval: '1d' },
      });
      await http().get('/orders').set('X-API-Key', metered.key).expect(200);
      await http().get('/orders').set('X-API-Key', metered.key).expect(200);
      const res = await http().get('/orders').set('X-API-Key', metered.key).expect(429);
      expectBody(res.body, 429, 'quota_exhausted', { scope: 'key' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(3600);
      expect((await running.keys.get(metered.id)).remaining).toBe(0);
      running.clock.now += 86_400_000 + 1000;
      try {
        await http().get('/orders').set('X-API-Key', metered.key).expect(200);
        expect((await running.keys.get(metered.id)).remaining).toBe(1);
      } finally {
        running.clock.now -= 86_400_000 + 1000;
      }
    });
  });

  describe('400 for a key in the query string', () => {
    it.each(['api_key', 'apiKey', 'key'])('refuses ?%s= and says to use the header', async (param) => {
      const res = await http().get(`/orders?${param}=${reader.key}`).set('X-API-Key', reader.key).expect(400);
      expectBody(res.body, 400, 'api_key_in_query');
      expect(res.body.message).toContain('X-API-Key header');
      expect(JSON.stringify(res.body)).not.toContain(reader.key);
    });
  });

  describe('bad request bodies', () => {
    it('answers malformed JSON with 400 and no stack trace', async () => {
      const writer = await running.keys.create({ name: 'writer', scopes: ['orders:write'] });
      const res = await http()
        .post('/orders')
        .set('X-API-Key', writer.key)
        .set('Content-Type', 'application/json')
        .send('{"item": ');
      expect(res.status).toBe(400);
      expect(res.text).not.toMatch(/\bat .*\.(js|ts):\d+/);
      const bad = await http()
        .post('/orders')
        .set('X-API-Key', writer.key)
        .send({ item: '', quantity: -1 })
        .expect(400);
      expect(bad.body.code).toBe('invalid_request');
    });
  });

  describe('secrets', () => {
    it('never puts a key into an audit event', () => {
      const serialized = JSON.stringify(running.events);
      expect(serialized).not.toContain(reader.key);
      expect(serialized).not.toMatch(/kb_live_[0-9A-Za-z]{40,}/);
    });

    it('records use in a batch, not per request', async () => {
      const key = await running.keys.create({ name: 'counted', scopes: ['orders:read'] });
      for (let i = 0; i < 3; i++) await http().get('/orders').set('X-API-Key', key.key).expect(200);
      expect((await running.keys.get(key.id)).usageCount).toBe(0);
      await running.keys.flushUsage();
      const after = await running.keys.get(key.id);
      expect(after.usageCount).toBe(3);
      expect(after.lastUsedAt).toBeInstanceOf(Date);
    });
  });
});
