import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { SignJWT, type CryptoKey as JoseKey } from 'jose';
import request from 'supertest';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  AuthUnavailableError,
  KEYBRIDGE_ENTITIES,
  KEYBRIDGE_MIGRATIONS,
  ReplayEntryEntity,
} from 'nestjs-keybridge';
import { DatabaseReplayCache } from '../../lib/replay/database-replay.cache.js';
import { freePort, startApp, type RunningApp } from './support/app-starter.js';
import { databaseTargets, sqlite, type DatabaseTarget } from './support/databases.js';
import { expectOAuthError, form, TOKEN_PATH } from './support/oauth.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';

const TTL_MS = 60_000;
const STORE_TIMEOUT_MS = 300;

function dataSourceOptions(name: DatabaseTarget['name'], url: string): DataSourceOptions {
  const common = {
    entities: [...KEYBRIDGE_ENTITIES],
    migrations: [...KEYBRIDGE_MIGRATIONS],
    synchronize: false,
  };
  if (name === 'postgres')
    return { ...common, type: 'postgres', url, extra: { connectionTimeoutMillis: 2000 } };
  if (name === 'mysql') return { ...common, type: 'mysql', url, connectTimeout: 2000 };
  return { ...common, type: 'better-sqlite3', database: url, enableWAL: true };
}

/**
 * `DatabaseReplayCache` on each database, with the shipped migrations: two caches on one database stand for
 * two instances, and every claim is a real statement.
 */
describe.each(databaseTargets().map((t) => [t.name, t] as const))(
  'DatabaseReplayCache on %s',
  (name, target) => {
    let url: string;
    let one: DataSource;
    let two: DataSource;
    let now: number;
    const clock = () => now;
    const cacheOn = (dataSource: DataSource, sweepEvery?: number) =>
      new DatabaseReplayCache(dataSource.getRepository(ReplayEntryEntity), {
        timeoutMs: STORE_TIMEOUT_MS,
        clock,
        sweepEvery,
      });

    beforeAll(async () => {
      url = await target.fresh();
      one = new DataSource(dataSourceOptions(name, url));
      await one.initialize();
      await one.runMigrations({ transaction: 'each' });
      two = new DataSource(dataSourceOptions(name, url));
      await two.initialize();
    });

    afterAll(async () => {
      await one?.destroy();
      await two?.destroy();
    });

    beforeEach(async () => {
      now = Date.UTC(2026, 0, 1);
      await one.getRepository(ReplayEntryEntity).clear();
    });

    it('accepts an identifier once, then refuses it on either instance until it expires', async () => {
      const a = cacheOn(one);
      const b = cacheOn(two);
      const id = `key_1:${randomUUID()}`;
      expect(await a.claim(id, TTL_MS)).toBe(true);
      expect(await a.claim(id, TTL_MS)).toBe(false);
      expect(await b.claim(id, TTL_MS)).toBe(false);
      expect(await b.claim(`key_2:${id.slice(6)}`, TTL_MS)).toBe(true);
    });

    it('accepts exactly one of many concurrent claims of one identifier from two instances', async () => {
      const a = cacheOn(one);
      const b = cacheOn(two);
      const id = `key_1:${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).claim(id, TTL_MS)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('stores a hash of the identifier with its expiry, never the identifier', async () => {
      const jti = randomUUID();
      await cacheOn(one).claim(`key_1:${jti}`, TTL_MS);
      const rows = await one.getRepository(ReplayEntryEntity).find();
      expect(rows).toHaveLength(1);
      expect(rows[0].id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(rows[0].id).not.toContain(jti);
      expect(rows[0].expiresAt).toBe(now + TTL_MS);
    });

    it('accepts an expired identifier again, once', async () => {
      const a = cacheOn(one);
      const b = cacheOn(two);
      const id = `key_1:${randomUUID()}`;
      expect(await a.claim(id, TTL_MS)).toBe(true);
      now += TTL_MS;
      const results = await Promise.all([a.claim(id, TTL_MS), b.claim(id, TTL_MS), a.claim(id, TTL_MS)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await b.claim(id, TTL_MS)).toBe(false);
    });

    it('deletes the expired rows every so many claims, and only those', async () => {
      const a = cacheOn(one, 3);
      await a.claim(`key_1:${randomUUID()}`, 1_000);
      await a.claim(`key_1:${randomUUID()}`, TTL_MS);
      now += 1_000;
      await a.claim(`key_1:${randomUUID()}`, TTL_MS);
      await a.sweep();
      const left = await one.getRepository(ReplayEntryEntity).find();
      expect(left).toHaveLength(2);
      expect(left.every((row) => row.expiresAt > now)).toBe(true);
    });

    it('fails closed with AuthUnavailableError when the table is missing', async () => {
      const bare = new DataSource(dataSourceOptions('sqlite', await sqlite.fresh()));
      await bare.initialize();
      try {
        await expect(cacheOn(bare).claim(`key_1:${randomUUID()}`, TTL_MS)).rejects.toBeInstanceOf(
          AuthUnavailableError,
        );
      } finally {
        await bare.destroy();
      }
    });

    // An embedded SQLite file has no connection to stall: the case is for the database servers.
    if (name !== 'sqlite')
      it('fails closed with AuthUnavailableError when the database does not answer', async () => {
        const proxy = await TcpProxy.startFor(url);
        const stalled = new DataSource(dataSourceOptions(name, throughProxy(url, proxy.port)));
        await stalled.initialize();
        try {
          const cache = cacheOn(stalled);
          expect(await cache.claim(`key_1:${randomUUID()}`, TTL_MS)).toBe(true);
          proxy.blackhole();
          await expect(cache.claim(`key_1:${randomUUID()}`, TTL_MS)).rejects.toBeInstanceOf(
            AuthUnavailableError,
          );
        } finally {
          await proxy.restore();
          await stalled.destroy().catch(() => undefined);
          await proxy.stop();
        }
      });
  },
);

/** Over HTTP, without Redis: when the replay table cannot answer, the token endpoint fails closed. */
describe('private_key_jwt without Redis when the replay table cannot answer', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp('express', await sqlite.fresh(), {}, { port: await freePort() });
  });

  afterAll(async () => {
    await running?.close();
  });

  it('answers 503 temporarily_unavailable, never accepts the assertion, and never echoes it', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const key = await running.keys.create({
      name: 'agent',
      scopes: ['orders:read'],
      publicKey: publicKey.export({ format: 'jwk' }),
    });
    const now = Math.floor(running.clock.now / 1000);
    const sign = () =>
      new SignJWT({
        iss: key.id,
        sub: key.id,
        aud: running.issuer,
        jti: randomUUID(),
        iat: now,
        exp: now + 60,
      })
        .setProtectedHeader({ alg: 'EdDSA' })
        .sign(privateKey as unknown as JoseKey);
    const send = (assertion: string) =>
      request(running.url)
        .post(TOKEN_PATH)
        .type('form')
        .send(
          form({
            grant_type: 'client_credentials',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
          }),
        );
    await send(await sign()).expect(200);

    await running.app.get(DataSource).query('DROP TABLE keybridge_replay');
    const sent = await sign();
    const refused = await send(sent);
    expectOAuthError(refused, 503, 'temporarily_unavailable', [sent]);
    expect(JSON.stringify(running.events)).not.toContain(sent);
  });
});
