import { setTimeout as sleep } from 'node:timers/promises';
import { generateKey } from 'nestjs-keybridge';
import request from 'supertest';
import type { ObjectLiteral, Repository } from 'typeorm';
import { API_KEY_REPOSITORY } from '../../lib/api-key.internal-constants.js';
import { ADAPTERS, sqlite } from './support/databases.js';
import { mintToken, TOKEN_PATH } from './support/oauth.js';
import { startApp, type RunningApp } from './support/app-starter.js';

/** A never-issued key of the right shape: it passes the checksum, so checking it costs a database read. */
const unknownKey = () => generateKey('kb_live_');

/**
 * Failed authentications are counted per client address; past the limit the address is refused with 429
 * before its next unknown credential reaches the database, while credentials already verified keep working.
 */
describe.each(ADAPTERS)('failed-authentication throttling (%s)', (adapter) => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh(), {
      failedAuthLimit: { limit: 5, window: '1m' },
    });
  });

  afterAll(() => running.close());

  it('cuts a flood of wrong keys off with 429 and Retry-After, without reading the database', async () => {
    const good = await running.keys.create({ name: 'good', scopes: ['orders:read'] });
    await request(running.url).get('/orders').set('X-API-Key', good.key).expect(200); // now cached
    const token = await mintToken(running.url, good);
    await request(running.url).get('/orders').set('Authorization', `Bearer ${token}`).expect(200);

    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await request(running.url).get('/orders').set('X-API-Key', unknownKey());
      statuses.push(res.status);
      await sleep(5); // the counter is updated asynchronously
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(-2)).toEqual([429, 429]);

    // No query reaches the key table for a throttled address.
    const repository = running.app.get<Repository<ObjectLiteral>>(API_KEY_REPOSITORY);
    let queries = 0;
    const query = repository.query.bind(repository);
    repository.query = (...args: Parameters<typeof query>) => (queries++, query(...args));
    const refused = await request(running.url).get('/orders').set('X-API-Key', unknownKey());
    repository.query = query;
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('rate_limited');
    expect(refused.body.message).toMatch(/failed authentication attempts/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(queries).toBe(0);
    expect(running.events.at(-1)).toMatchObject({ type: 'auth.throttled', ip: '127.0.0.1' });

    // Credentials already verified keep working from the same address.
    await request(running.url).get('/orders').set('X-API-Key', good.key).expect(200);
    await request(running.url).get('/orders').set('Authorization', `Bearer ${token}`).expect(200);
    // A forged token from that address is refused before its signature is checked.
    const forged = `${token.slice(0, -4)}AAAA`;
    expect((await request(running.url).get('/orders').set('Authorization', `Bearer ${forged}`)).status).toBe(
      429,
    );
  });

  it('applies at the token endpoint too', async () => {
    const fresh = await startApp(adapter, await sqlite.fresh(), {
      failedAuthLimit: { limit: 3, window: '1m' },
    });
    try {
      const key = await fresh.keys.create({ name: 'client', scopes: ['orders:read'] });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await request(fresh.url)
          .post(TOKEN_PATH)
          .auth(key.id, unknownKey())
          .type('form')
          .send({ grant_type: 'client_credentials' });
        statuses.push(res.status);
        await sleep(5);
      }
      expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
      expect(statuses.at(-1)).toBe(429);
    } finally {
      await fresh.close();
    }
  });
});

/**
 * Behind one trusted proxy (`trustedProxies: 1`) the client address is the entry the proxy appended to
 * `X-Forwarded-For`; what the client wrote to its left is ignored, so rewriting it neither escapes the throttle
 * nor gets somebody else's address blocked. (The test's own socket plays the proxy.)
 */
describe.each(ADAPTERS)('failed-authentication throttling behind a proxy (%s)', (adapter) => {
  const ATTACKER = '203.0.113.9';
  const VICTIM = '198.51.100.7';
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh(), {
      trustedProxies: 1,
      failedAuthLimit: { limit: 3, window: '1m' },
    });
  });

  afterAll(() => running.close());

  const fromAttacker = (claimed: string) =>
    request(running.url)
      .get('/orders')
      .set('X-Forwarded-For', `${claimed}, ${ATTACKER}`)
      .set('X-API-Key', unknownKey());

  it('counts an attacker who rewrites X-Forwarded-For, and never blocks the address it names', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      // A new claimed address every time, the victim's among them.
      statuses.push((await fromAttacker(i % 2 === 0 ? VICTIM : `10.9.8.${i}`)).status);
      await sleep(5);
    }
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    expect(running.events.at(-1)).toMatchObject({ type: 'auth.throttled', ip: ATTACKER });

    // The victim's own requests come through the proxy with its address appended: not throttled.
    const victim = await request(running.url)
      .get('/orders')
      .set('X-Forwarded-For', VICTIM)
      .set('X-API-Key', unknownKey());
    expect(victim.status).toBe(401);
    const good = await running.keys.create({ name: 'victim', scopes: ['orders:read'] });
    await request(running.url)
      .get('/orders')
      .set('X-Forwarded-For', VICTIM)
      .set('X-API-Key', good.key)
      .expect(200);
  });
});
