import type { CreatedApiKey } from 'nestjs-keybridge';
import request from 'supertest';
import { databaseTargets, sqlite, type DatabaseTarget } from './support/databases.js';
import {
  API_KEY_TOKEN_TYPE,
  clientCredentials,
  expectOAuthError,
  form,
  TOKEN_EXCHANGE,
  TOKEN_PATH,
} from './support/oauth.js';
import { expectTemporarilyUnavailable, until } from './support/outage.js';
import { startApp, type RunningApp } from './support/app-starter.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';

const QUOTA = 10;
/** README: the app recovers by itself once the database is back; 10 s leaves room for the pool to reconnect. */
const RECOVERY_MS = 10_000;

type Grant = 'client_credentials' | 'token_exchange';
const GRANTS: Grant[] = ['client_credentials', 'token_exchange'];

/** A token request for `key` with the grant, authenticated as that grant does it. */
function tokenRequest(app: RunningApp, grant: Grant, key: CreatedApiKey, extra: Record<string, string> = {}) {
  if (grant === 'client_credentials') return clientCredentials(app.url, key.id, key.key, extra);
  return request(app.url)
    .post(TOKEN_PATH)
    .type('form')
    .send(
      form({
        grant_type: TOKEN_EXCHANGE,
        subject_token: key.key,
        subject_token_type: API_KEY_TOKEN_TYPE,
        ...extra,
      }),
    );
}

const issuedTo = (app: RunningApp, key: CreatedApiKey) =>
  app.events.filter((event) => event.type === 'token.issued' && event.keyId === key.id).length;

/** The key's stored `remaining` and `usageCount`, once pending usage has been written. */
async function stored(
  app: RunningApp,
  key: CreatedApiKey,
): Promise<{ remaining: number | null; usageCount: number }> {
  await app.keys.flushUsage();
  const { remaining, usageCount } = await app.keys.get(key.id);
  return { remaining, usageCount };
}

const servers = databaseTargets().filter((target) => target.name !== 'sqlite');

/**
 * The token endpoint while the key store is cut off (a TCP proxy in front of the shared database server, which
 * keeps running): no token, 503 `temporarily_unavailable`, and nothing spent, for a key that has to be read
 * and for a cached key whose quota needs a new lease. A cached key still holding leased units of its quota is
 * served from them (quotas are not written per request); every unit it spends is in the row once the database
 * is back. The denylist is kept in memory here, so a cached key's quota lease is the only thing that sends a
 * token request to the database.
 */
(servers.length > 0
  ? describe.each(servers.map((target) => [target.name, target] as const))
  : describe.skip.each([['no database server configured', sqlite as DatabaseTarget] as const]))(
  'token endpoint during a database outage (%s)',
  (_name, target) => {
    let proxy: TcpProxy;
    let running: RunningApp;

    beforeAll(async () => {
      const url = await target.fresh();
      proxy = await TcpProxy.startFor(url);
      running = await startApp('express', throughProxy(url, proxy.port), {
        storeTimeout: '1s',
        denylist: 'memory',
      });
    });

    afterAll(async () => {
      await running?.close().catch(() => undefined);
      await proxy?.stop();
    });

    it.each([
      ['cut', (proxy: TcpProxy) => proxy.cut()],
      ['stalled (connections accepted, never answered)', (proxy: TcpProxy) => proxy.stall()],
    ])(
      'database %s: 503 temporarily_unavailable for both grants where the database is needed, no token, no unit spent; recovers by itself',
      async (mode, begin) => {
        const cold = await running.keys.create({
          name: 'uncached',
          scopes: ['orders:read'],
          remaining: QUOTA,
        });
        const warm = await running.keys.create({ name: 'cached', scopes: ['orders:read'], remaining: QUOTA });
        const successes = new Map([
          [cold.id, 0],
          [warm.id, 0],
        ]);
        // The cached key has been exchanged once with each grant: it is in the verified-key cache.
        for (const grant of GRANTS) {
          await tokenRequest(running, grant, warm).expect(200);
          successes.set(warm.id, successes.get(warm.id)! + 1);
        }
        const issuedBefore = { cold: issuedTo(running, cold), warm: issuedTo(running, warm) };

        await begin(proxy);
        const timings: number[] = [];
        for (const grant of GRANTS) {
          for (const key of [cold, warm]) {
            for (let attempt = 0; attempt < 2; attempt++) {
              const started = Date.now();
              const res = await tokenRequest(running, grant, key);
              timings.push(Date.now() - started);
              if (key === warm && res.status === 200) {
                // The cached key spends from the block of its quota this instance leased before the outage.
                successes.set(warm.id, successes.get(warm.id)! + 1);
                continue;
              }
              expectTemporarilyUnavailable(res, [key.key]);
            }
          }
        }
        console.log(
          `token endpoint, ${target.name} ${mode}: 503 after ${Math.min(...timings)}–${Math.max(...timings)} ms`,
        );
        // storeTimeout is 1 s: no answer waits much longer, whether the database refuses or says nothing.
        expect(Math.max(...timings)).toBeLessThan(5000);
        expect({ cold: issuedTo(running, cold), warm: issuedTo(running, warm) }).toEqual({
          cold: issuedBefore.cold,
          warm: successes.get(warm.id)!,
        });

        await proxy.restore();
        for (const key of [warm, cold]) {
          for (const grant of GRANTS) {
            const recovered = await until(() => tokenRequest(running, grant, key), 200, RECOVERY_MS);
            expect(recovered.seen.at(-1)).toBe(200);
            expect(recovered.seen.filter((status) => status !== 200 && status !== 503)).toEqual([]);
            successes.set(key.id, successes.get(key.id)! + 1);
          }
        }

        // Only the exchanges that issued a token spent a unit and count as uses.
        for (const key of [cold, warm]) {
          const spent = successes.get(key.id)!;
          expect(await stored(running, key)).toEqual({ remaining: QUOTA - spent, usageCount: spent });
          expect(issuedTo(running, key)).toBe(spent);
        }
      },
    );
  },
);

/**
 * A key's rate limit and quota are spent at the token endpoint only once a token will be issued: a request
 * refused for its scope, its audience or the per-key minting limit costs the key nothing.
 */
describe('a refused token request costs the key nothing (sqlite)', () => {
  const KEY_RATE_LIMIT = 3;
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp('express', await sqlite.fresh(), {
      tokenRateLimit: { perKey: { limit: 1, window: '1m' } },
    });
  });

  afterAll(() => running?.close());

  const newKey = () =>
    running.keys.create({
      name: 'metered',
      scopes: ['orders:read'],
      remaining: QUOTA,
      rateLimit: { limit: KEY_RATE_LIMIT, window: '10m' },
    });

  /** After one token issued and refusals only: one unit of quota and rate limit gone, then one more for a route. */
  async function expectOneUnitSpent(key: CreatedApiKey): Promise<void> {
    expect(issuedTo(running, key)).toBe(1);
    expect((await stored(running, key)).remaining).toBe(QUOTA - 1);
    const res = await request(running.url).get('/orders').set('X-API-Key', key.key).expect(200);
    expect(res.headers['ratelimit-remaining']).toBe(String(KEY_RATE_LIMIT - 2));
    expect((await stored(running, key)).remaining).toBe(QUOTA - 2);
  }

  describe.each(GRANTS)('%s', (grant) => {
    it.each([
      ['invalid_scope', { scope: 'orders:write' }],
      ['invalid_target', { audience: 'https://elsewhere.example' }],
    ])(
      '%s, refused before the minting limit too: a token can still be minted after',
      async (error, extra) => {
        const key = await newKey();
        for (let i = 0; i < 3; i++)
          expectOAuthError(await tokenRequest(running, grant, key, extra), 400, error, [key.key]);
        expect(issuedTo(running, key)).toBe(0);
        expect((await stored(running, key)).remaining).toBe(QUOTA);
        // The per-key minting limit (1 per minute) was not spent either.
        await tokenRequest(running, grant, key).expect(200);
        await expectOneUnitSpent(key);
      },
    );

    it('the per-key minting limit', async () => {
      const key = await newKey();
      await tokenRequest(running, grant, key).expect(200);
      for (let i = 0; i < 3; i++) {
        const res = await tokenRequest(running, grant, key);
        expectOAuthError(res, 429, 'rate_limited', [key.key]);
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
      await expectOneUnitSpent(key);
    });
  });
});
