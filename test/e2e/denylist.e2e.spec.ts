import { setTimeout as sleep } from 'node:timers/promises';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { ApiKeyModuleOptions, CreatedApiKey } from 'nestjs-keybridge';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { DENYLIST_STORE } from '../../lib/api-key.internal-constants.js';
import { databaseTargets, sqlite, type DatabaseTarget } from './support/databases.js';
import { expectInvalidToken, mintToken } from './support/oauth.js';
import { clearRedisPrefix, denylistEntries, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { startApp, type RunningApp } from './support/app-starter.js';

type StoreKind = 'memory' | 'database' | 'redis';

const REDIS_URL = redisTarget();
const MINUTE = 60_000;
/** Default token lifetime (15 min) plus the default clock tolerance (5 s): how long an entry must live. */
const ENTRY_LIFETIME_MS = 15 * MINUTE + 5000;

/** Every denylist store, each with the database that holds the keys: every database for the database store. */
const STORES: [string, StoreKind, DatabaseTarget][] = [
  ['memory', 'memory', sqlite],
  ...databaseTargets().map((db): [string, StoreKind, DatabaseTarget] => [
    `database on ${db.name}`,
    'database',
    db,
  ]),
  ...(REDIS_URL ? [['redis', 'redis', sqlite] as [string, StoreKind, DatabaseTarget]] : []),
];

/** The `jti` of a token, read without verifying it. */
function jtiOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { jti: string }).jti;
}

/**
 * Revocation of access tokens and of keys, with the token denylist kept in memory, in each database, or in
 * Redis: what is refused at once, what survives a restart, and when entries are dropped.
 */
describe.each(STORES)('token denylist (%s)', (_label, kind, database) => {
  let databaseUrl: string;
  let options: ApiKeyModuleOptions;
  let prefix: string;
  let running: RunningApp;
  let admin: CreatedApiKey;
  let introspector: CreatedApiKey;

  const start = () => startApp('express', databaseUrl, options);

  beforeAll(async () => {
    databaseUrl = await database.fresh();
    prefix = uniqueRedisPrefix();
    options =
      kind === 'redis'
        ? { denylist: { redis: REDIS_URL!, keyPrefix: prefix } }
        : { denylist: kind as 'memory' | 'database' };
    running = await start();
    admin = await running.keys.create({ name: 'admin', scopes: ['keys:admin'] });
    introspector = await running.keys.create({ name: 'introspector', scopes: ['tokens:introspect'] });
  });

  afterAll(async () => {
    await running?.close();
    if (kind === 'redis') await clearRedisPrefix(REDIS_URL!, prefix);
  });

  const reader = (name: string) => running.keys.create({ name, scopes: ['orders:read'] });

  const mint = (key: CreatedApiKey) => mintToken(running.url, key);

  const withToken = (token: string) =>
    request(running.url).get('/orders').set('Authorization', `Bearer ${token}`);
  const withKey = (key: CreatedApiKey) => request(running.url).get('/orders').set('X-API-Key', key.key);
  const revokeToken = (key: CreatedApiKey, token: string) =>
    request(running.url).post('/oauth/revoke').auth(key.id, key.key).type('form').send({ token });

  /** 401 invalid_token with the Bearer challenge, and the precise reason in the audit event. */
  async function expectTokenRefused(token: string, reason: string, keyId?: string): Promise<void> {
    const from = running.events.length;
    const res = await withToken(token);
    expectInvalidToken(res);
    expect(running.events.slice(from)).toContainEqual(
      expect.objectContaining({
        type: 'auth.failed',
        reason: `token_${reason}`,
        ...(keyId ? { keyId } : {}),
      }),
    );
  }

  /** The ids in the `keybridge_denylist` table. */
  async function rowIds(): Promise<string[]> {
    const dataSource = running.app.get<DataSource>(getDataSourceToken());
    const rows = (await dataSource.query('SELECT id FROM keybridge_denylist')) as { id: string }[];
    return rows.map((row) => row.id);
  }

  describe('a token revoked through POST /oauth/revoke', () => {
    let key: CreatedApiKey;
    let revoked: string;
    let other: string;

    beforeAll(async () => {
      key = await reader('one token revoked');
      revoked = await mint(key);
      other = await mint(key);
      await withToken(revoked).expect(200);
      await withToken(other).expect(200);
      const res = await revokeToken(key, revoked);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
    });

    it('is refused at once with 401 invalid_token (reason token_revoked)', async () => {
      await expectTokenRefused(revoked, 'revoked', key.id);
      expect(running.events).toContainEqual(
        expect.objectContaining({ type: 'token.revoked', keyId: key.id, tokenId: jtiOf(revoked) }),
      );
    });

    it('leaves another token of the same key working', async () => {
      await withToken(other).expect(200);
    });

    it('leaves the key itself working', async () => {
      await withKey(key).expect(200);
    });

    it('is reported inactive by introspection while the other token is active', async () => {
      const introspect = (token: string) =>
        request(running.url)
          .post('/oauth/introspect')
          .auth(introspector.id, introspector.key)
          .type('form')
          .send({ token });
      expect((await introspect(revoked).expect(200)).body).toEqual({ active: false });
      expect((await introspect(other).expect(200)).body).toEqual(
        expect.objectContaining({ active: true, jti: jtiOf(other), client_id: key.id }),
      );
    });

    if (kind === 'database') {
      it('is written to the keybridge_denylist table', async () => {
        expect(await rowIds()).toContain(`token:${jtiOf(revoked)}`);
      });
    }
    if (kind === 'redis') {
      it('is written to the Redis sorted set, scored by its expiry plus the clock tolerance', async () => {
        const entries = await denylistEntries(REDIS_URL!, prefix);
        const exp = (
          JSON.parse(Buffer.from(revoked.split('.')[1], 'base64url').toString()) as { exp: number }
        ).exp;
        expect(entries.get(`token:${jtiOf(revoked)}`)).toBe(exp * 1000 + 5000);
      });
    }
  });

  const keyRevocations: [string, (key: CreatedApiKey) => Promise<void>][] = [
    [
      'ApiKeyService.revoke',
      async (key) => {
        await running.keys.revoke(key.id, 'test');
      },
    ],
    [
      'the admin API POST /keys/:id/revoke',
      async (key) => {
        const res = await request(running.url)
          .post(`/keys/${key.id}/revoke`)
          .set('X-API-Key', admin.key)
          .send({ reason: 'test' });
        expect(res.status).toBe(200);
        expect(res.body.status).toBe('revoked');
      },
    ],
    [
      'RFC 7009 with the key as token',
      async (key) => {
        const res = await request(running.url).post('/oauth/revoke').type('form').send({ token: key.key });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({});
      },
    ],
  ];

  describe.each(keyRevocations)('a key revoked with %s', (_how, revoke) => {
    let key: CreatedApiKey;
    let tokens: string[];

    beforeAll(async () => {
      key = await reader('revoked key');
      tokens = [await mint(key), await mint(key)];
      for (const token of tokens) await withToken(token).expect(200);
      // The key is now in the verified-key cache: its refusal must not wait for the cache to expire.
      await withKey(key).expect(200);
      await revoke(key);
    });

    it('refuses every token minted from it with 401 invalid_token (reason token_key_revoked)', async () => {
      for (const token of tokens) await expectTokenRefused(token, 'key_revoked', key.id);
    });

    it('refuses the key itself with 401 invalid_api_key (reason revoked)', async () => {
      const from = running.events.length;
      const res = await withKey(key).expect(401);
      expect(res.body.code).toBe('invalid_api_key');
      expect(running.events.slice(from)).toContainEqual(
        expect.objectContaining({ type: 'auth.failed', reason: 'revoked', keyId: key.id }),
      );
      expect((await running.keys.get(key.id)).status).toBe('revoked');
    });

    it('refuses to mint a new token from it with 401 invalid_client', async () => {
      const res = await request(running.url)
        .post('/oauth/token')
        .auth(key.id, key.key)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    });
  });

  describe('across a restart', () => {
    let key: CreatedApiKey;
    let revoked: string;
    let kept: string;
    let revokedKey: CreatedApiKey;
    let ofRevokedKey: string;

    beforeAll(async () => {
      key = await reader('restart');
      revoked = await mint(key);
      kept = await mint(key);
      await revokeToken(key, revoked).expect(200);
      revokedKey = await reader('restart, key revoked');
      ofRevokedKey = await mint(revokedKey);
      await running.keys.revoke(revokedKey.id);
      await expectTokenRefused(revoked, 'revoked', key.id);
      await expectTokenRefused(ofRevokedKey, 'key_revoked', revokedKey.id);
      // The same database (or Redis prefix), signing key and issuer: a new process of the same deployment.
      await running.close();
      running = await start();
    });

    it('accepts a token that was not revoked', async () => {
      await withToken(kept).expect(200);
    });

    it('keeps refusing the revoked key itself (it is revoked in the key store)', async () => {
      await withKey(revokedKey).expect(401);
    });

    if (kind === 'memory') {
      it('forgets a revoked token: the memory store does not survive a restart (documented)', async () => {
        await withToken(revoked).expect(200);
      });

      it('still refuses the tokens of a revoked key: they are read back from the key table', async () => {
        await expectTokenRefused(ofRevokedKey, 'key_revoked', revokedKey.id);
      });
    } else {
      it('still refuses the revoked token', async () => {
        await expectTokenRefused(revoked, 'revoked', key.id);
      });

      it('still refuses the tokens of the revoked key', async () => {
        await expectTokenRefused(ofRevokedKey, 'key_revoked', revokedKey.id);
      });
    }
  });

  if (kind === 'database') {
    describe('expired entries', () => {
      it('leave the table once the tokens they cover would have expired; later ones stay', async () => {
        const key = await reader('purge');
        const early = await mint(key);
        await revokeToken(key, early).expect(200);
        const earlyId = `token:${jtiOf(early)}`;
        expect(await rowIds()).toContain(earlyId);

        running.clock.now += 10 * MINUTE;
        const late = await mint(key);
        await revokeToken(key, late).expect(200);
        const lateId = `token:${jtiOf(late)}`;
        // Past the early token's exp + tolerance, within the late one's. The store purges at most once a
        // minute of its clock, on its next read (every second).
        running.clock.now += ENTRY_LIFETIME_MS - 10 * MINUTE + 1000;
        let ids = await rowIds();
        for (let waited = 0; ids.includes(earlyId) && waited < 5000; waited += 100) {
          await sleep(100);
          ids = await rowIds();
        }
        expect(ids).not.toContain(earlyId);
        expect(ids).toContain(lateId);
        // Gone from the table, and still refused: it has expired by itself.
        await expectTokenRefused(early, 'expired');
        await expectTokenRefused(late, 'revoked', key.id);
      });
    });
  }

  if (kind === 'redis') {
    describe('expired entries', () => {
      let earlyId: string;
      let lateId: string;

      beforeAll(async () => {
        const key = await reader('expiry');
        const early = await mint(key);
        await revokeToken(key, early).expect(200);
        earlyId = `token:${jtiOf(early)}`;
        expect((await denylistEntries(REDIS_URL!, prefix)).has(earlyId)).toBe(true);
        running.clock.now += ENTRY_LIFETIME_MS + 1000;
        // The next revocation drops whatever has expired by the writer's clock.
        const late = await mint(key);
        await revokeToken(key, late).expect(200);
        lateId = `token:${jtiOf(late)}`;
      });

      it('leave the Redis sorted set once the tokens they cover would have expired', async () => {
        const entries = await denylistEntries(REDIS_URL!, prefix);
        expect(entries.has(earlyId)).toBe(false);
        expect(entries.has(lateId)).toBe(true);
        for (const expiresAt of entries.values()) expect(expiresAt).toBeGreaterThan(running.clock.now);
      });

      it("leave the instance's in-memory copy as well", async () => {
        // Not visible over HTTP: the copy answers every request, and an entry left in it only costs memory,
        // for every revocation ever made, in every instance, until Redis reconnects.
        const store = running.app.get<{ mirror: { entries: Map<string, number> } }>(DENYLIST_STORE);
        const held = [...store.mirror.entries].filter(([, expiresAt]) => expiresAt <= running.clock.now);
        expect(held.map(([id]) => id)).toEqual([]);
      });
    });
  }
});
