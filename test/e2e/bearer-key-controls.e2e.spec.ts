import { getDataSourceToken } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { ADAPTERS, sqlite } from './support/databases.js';
import { expectInvalidToken, expectOAuthError, mintToken, TOKEN_PATH } from './support/oauth.js';
import { startApp, type RunningApp } from './support/app-starter.js';

/**
 * A token carries no more authority than the key it was minted from: the key's state, allow-lists, rate
 * limit and quota apply to bearer requests as to the key itself.
 */
describe.each(ADAPTERS)('bearer tokens answer to their key (%s)', (adapter) => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh(), {
      cache: { ttl: '200ms' },
      tokenRateLimit: { perKey: false, perAddress: false },
    });
  });

  afterAll(() => running.close());

  const withToken = (token: string) =>
    request(running.url).get('/orders').set('Authorization', `Bearer ${token}`);

  it("spends the key's quota: minting takes one unit, each bearer request one more, then 429", async () => {
    const key = await running.keys.create({ name: 'quota', scopes: ['orders:read'], remaining: 3 });
    const token = await mintToken(running.url, key);
    await withToken(token).expect(200);
    await withToken(token).expect(200);
    const refused = await withToken(token).expect(429);
    expect(refused.body.code).toBe('quota_exhausted');
    expect(refused.headers['retry-after']).toBeDefined();
  });

  it("shares the key's rate limit between the key and its tokens", async () => {
    const key = await running.keys.create({
      name: 'limited',
      scopes: ['orders:read'],
      rateLimit: { limit: 3, window: '1m' },
    });
    const token = await mintToken(running.url, key); // 1
    await request(running.url).get('/orders').set('X-API-Key', key.key).expect(200); // 2
    const last = await withToken(token).expect(200); // 3
    expect(last.headers['ratelimit-remaining']).toBe('0');
    const refused = await withToken(token).expect(429);
    expect(refused.body.code).toBe('rate_limited');
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.headers['ratelimit-limit']).toBe('3');
  });

  it("applies the key's IP allow-list to its tokens, as changed after minting", async () => {
    const key = await running.keys.create({
      name: 'ips',
      scopes: ['orders:read'],
      allowedIps: ['127.0.0.1'],
    });
    const token = await mintToken(running.url, key);
    await withToken(token).expect(200);
    await running.keys.update(key.id, { allowedIps: ['10.0.0.0/8'] });
    const refused = await withToken(token).expect(403);
    expect(refused.body.code).toBe('forbidden_origin');
  });

  it("refuses a token once its key's expiry is moved before now", async () => {
    const key = await running.keys.create({ name: 'shortened', scopes: ['orders:read'] });
    const token = await mintToken(running.url, key);
    await withToken(token).expect(200);
    await running.keys.update(key.id, { expiresAt: new Date(running.clock.now + 1000) });
    running.clock.now += 2000;
    const since = running.events.length;
    expectInvalidToken(await withToken(token));
    expect(running.events.slice(since)).toContainEqual(
      expect.objectContaining({ type: 'auth.failed', reason: 'token_key_expired', keyId: key.id }),
    );
  });

  it('refuses the tokens of a key revoked behind the library’s back, within the cache ttl', async () => {
    const key = await running.keys.create({ name: 'sql-revoked', scopes: ['orders:read'] });
    const token = await mintToken(running.url, key);
    await withToken(token).expect(200);
    // Another tool marks the key revoked in the table: no denylist entry, no cache invalidation here.
    const dataSource = running.app.get<DataSource>(getDataSourceToken());
    await dataSource.query('UPDATE keybridge_api_keys SET revoked_at = ? WHERE id = ?', [
      running.clock.now,
      key.id,
    ]);
    running.clock.now += 300; // the cache ttl runs on the library's clock
    const since = running.events.length;
    expectInvalidToken(await withToken(token));
    expect(running.events.slice(since)).toContainEqual(
      expect.objectContaining({ type: 'auth.failed', reason: 'token_key_revoked', keyId: key.id }),
    );
  });
});

describe.each(ADAPTERS)('token endpoint input that could leak a key (%s)', (adapter) => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh());
  });

  afterAll(() => running.close());

  it('refuses credentials in the URL with invalid_request, without echoing them', async () => {
    const key = await running.keys.create({ name: 'query', scopes: ['orders:read'] });
    for (const name of ['client_secret', 'api_key', 'subject_token']) {
      const res = await request(running.url)
        .post(`${TOKEN_PATH}?client_id=${key.id}&${name}=${key.key}`)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expectOAuthError(res, 400, 'invalid_request', [key.key]);
    }
  });

  it('never quotes a key pasted into scope', async () => {
    const key = await running.keys.create({ name: 'scope', scopes: ['orders:read'] });
    const res = await request(running.url)
      .post(TOKEN_PATH)
      .auth(key.id, key.key)
      .type('form')
      .send({ grant_type: 'client_credentials', scope: `orders:read ${key.key}` });
    expectOAuthError(res, 400, 'invalid_scope', [key.key]);
    expect(res.body.error_description).toContain('[redacted]');
  });

  it('never quotes a key sent as a parameter name', async () => {
    const key = await running.keys.create({ name: 'name', scopes: ['orders:read'] });
    const res = await request(running.url)
      .post(TOKEN_PATH)
      .auth(key.id, key.key)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ grant_type: 'client_credentials', [key.key]: { nested: true } }));
    expectOAuthError(res, 400, 'invalid_request', [key.key, key.key.slice(0, 40)]);
  });
});
