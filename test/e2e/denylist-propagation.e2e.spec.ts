import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { CreatedApiKey } from 'nestjs-keybridge';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { databaseTargets, sqlite } from './support/databases.js';
import { mintToken } from './support/oauth.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { startSampleApp, TEST_PEPPER, TEST_SIGNING_KEY, type RunningApp } from './support/sample-app.js';

const CLI = 'dist/sample-app/cli/keys.cli.js';
const run = promisify(execFile);
/** PostgreSQL when it is configured (the multi-instance setup), else a SQLite file shared by the processes. */
const DATABASE = databaseTargets().find((target) => target.name === 'postgres') ?? sqlite;
const REDIS_URL = redisTarget();
/** README, "Revocation across processes": the poll interval (1 s) plus one query; 1 s of slack for the query. */
const DATABASE_BOUND_MS = 1000 + 1000;
/** README: "milliseconds" with Redis pub/sub; 1 s leaves room for a loaded machine. */
const REDIS_BOUND_MS = 1000;
const POLL_EVERY_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends a request every 50 ms until it is answered 401 and notes when (epoch ms, on receipt). Any answer but
 * 200 or 401 is kept in `unexpected`. It gives up once the time given to `stopAfter` has passed, or after a
 * minute.
 */
class RefusalWatch {
  refusedAt: number | undefined;
  readonly unexpected: number[] = [];
  readonly done: Promise<void>;
  private stopAt = Date.now() + 60_000;

  constructor(send: () => Promise<{ status: number }>) {
    this.done = this.watch(send);
  }

  stopAfter(ms: number): Promise<void> {
    this.stopAt = Math.min(this.stopAt, Date.now() + ms);
    return this.done;
  }

  private async watch(send: () => Promise<{ status: number }>): Promise<void> {
    while (Date.now() < this.stopAt) {
      const { status } = await send();
      if (status === 401) {
        this.refusedAt = Date.now();
        return;
      }
      if (status !== 200) this.unexpected.push(status);
      await sleep(POLL_EVERY_MS);
    }
  }
}

const withToken = (app: RunningApp, token: string) =>
  request(app.url).get('/orders').set('Authorization', `Bearer ${token}`);
const withKey = (app: RunningApp, key: CreatedApiKey) =>
  request(app.url).get('/orders').set('X-API-Key', key.key);
const revokeToken = (app: RunningApp, key: CreatedApiKey, token: string) =>
  request(app.url).post('/oauth/revoke').auth(key.id, key.key).type('form').send({ token });

/**
 * Revokes a token through B's `/oauth/revoke` and measures how soon A refuses it: within `boundMs` of B's
 * answer, never anything but 200 then 401 meanwhile, and another token of the same key untouched.
 */
async function expectTokenRevocationSeen(
  a: RunningApp,
  b: RunningApp,
  label: string,
  boundMs: number,
  watchMs: number,
): Promise<void> {
  const key = await a.keys.create({ name: 'token revoked on B', scopes: ['orders:read'] });
  const token = await mintToken(a.url, key);
  const other = await mintToken(a.url, key);
  await withToken(a, token).expect(200);

  const watch = new RefusalWatch(() => withToken(a, token));
  const res = await revokeToken(b, key, token);
  const revokedAt = Date.now();
  expect(res.status).toBe(200);
  await watch.stopAfter(watchMs);

  console.log(
    `${label}, token revoked on B: A refused it ${watch.refusedAt! - revokedAt} ms after B answered (bound ${boundMs} ms)`,
  );
  expect(watch.refusedAt).toBeDefined();
  expect(watch.refusedAt! - revokedAt).toBeLessThan(boundMs);
  expect(watch.unexpected).toEqual([]);
  await withToken(a, other).expect(200);
}

/** `npm run keys`, the built CLI: a process of its own with the app's configuration. */
async function cli(databaseUrl: string, ...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        KEYBRIDGE_PEPPER: TEST_PEPPER,
        KEYBRIDGE_SIGNING_KEY: TEST_SIGNING_KEY,
        REDIS_URL: '',
        NODE_OPTIONS: '',
      },
      timeout: 30_000,
    });
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

/**
 * How soon a revocation made by another process is honoured, measured against the bounds the README states.
 * Every app here runs on the real clock (`clock: Date.now`) so that their times and the CLI's agree.
 */
describe(`database denylist propagation (${DATABASE.name})`, () => {
  let databaseUrl: string;
  let a: RunningApp;
  let b: RunningApp;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does).`);
    databaseUrl = await DATABASE.fresh();
    a = await startSampleApp('express', databaseUrl, { clock: Date.now, denylistPollInterval: '1s' });
    b = await startSampleApp('express', databaseUrl, { clock: Date.now, denylistPollInterval: '1s' });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  /** When the entry was written: `created_at` is the writer's clock, the same machine's as ours. */
  async function writtenAt(id: string): Promise<number> {
    const dataSource = a.app.get<DataSource>(getDataSourceToken());
    const rows = (await dataSource.query(
      `SELECT created_at FROM keybridge_denylist WHERE id = ${DATABASE.name === 'postgres' ? '$1' : '?'}`,
      [id],
    )) as { created_at: string | number }[];
    expect(rows).toHaveLength(1);
    return Number(rows[0].created_at);
  }

  it('honours a key revoked by the CLI within the poll interval plus 1 s, for its tokens and the key itself', async () => {
    const key = await a.keys.create({ name: 'revoked by the CLI', scopes: ['orders:read'] });
    const token = await mintToken(a.url, key);
    await withToken(a, token).expect(200);
    // Cached on A for 5 s: a refusal sooner than that comes from the denylist.
    await withKey(a, key).expect(200);
    const from = a.events.length;

    const tokenWatch = new RefusalWatch(() => withToken(a, token));
    const keyWatch = new RefusalWatch(() => withKey(a, key));
    const cliStarted = Date.now();
    const revoked = await cli(databaseUrl, 'revoke', key.id);
    const cliExited = Date.now();
    expect(revoked).toEqual({ code: 0, stderr: '' });
    await Promise.all([tokenWatch.stopAfter(5000), keyWatch.stopAfter(5000)]);
    const written = await writtenAt(`key:${key.id}`);

    console.log(
      `database denylist (${DATABASE.name}), CLI revoke: the CLI ran ${cliExited - cliStarted} ms; ` +
        `A refused the token ${tokenWatch.refusedAt! - cliExited} ms and the key ${keyWatch.refusedAt! - cliExited} ms ` +
        `after the CLI exited, ${tokenWatch.refusedAt! - written} ms and ${keyWatch.refusedAt! - written} ms after ` +
        `the row was written (bound ${DATABASE_BOUND_MS} ms)`,
    );
    expect(tokenWatch.refusedAt).toBeDefined();
    expect(keyWatch.refusedAt).toBeDefined();
    expect(tokenWatch.refusedAt! - cliExited).toBeLessThan(DATABASE_BOUND_MS);
    expect(keyWatch.refusedAt! - cliExited).toBeLessThan(DATABASE_BOUND_MS);
    expect(tokenWatch.refusedAt! - written).toBeLessThan(DATABASE_BOUND_MS);
    expect(keyWatch.refusedAt! - written).toBeLessThan(DATABASE_BOUND_MS);
    expect([...tokenWatch.unexpected, ...keyWatch.unexpected]).toEqual([]);
    expect(a.events.slice(from)).toContainEqual(
      expect.objectContaining({ type: 'auth.failed', reason: 'token_key_revoked', keyId: key.id }),
    );
  }, 60_000);

  it('honours a token revoked on another instance within the poll interval plus 1 s', () =>
    expectTokenRevocationSeen(a, b, `database denylist (${DATABASE.name})`, DATABASE_BOUND_MS, 5000));
});

/** Redis pub/sub: two instances on one Redis prefix (and one database); a revocation on B, measured on A. */
(REDIS_URL ? describe.each([[REDIS_URL]]) : describe.skip.each([['TEST_REDIS_URL not set']]))(
  'Redis denylist propagation (%s)',
  (redisUrl) => {
    let prefix: string;
    let a: RunningApp;
    let b: RunningApp;

    beforeAll(async () => {
      prefix = uniqueRedisPrefix();
      const databaseUrl = await DATABASE.fresh();
      const options = { clock: Date.now, denylist: { redis: redisUrl, keyPrefix: prefix } };
      a = await startSampleApp('express', databaseUrl, options);
      b = await startSampleApp('express', databaseUrl, options);
    });

    afterAll(async () => {
      await a?.close();
      await b?.close();
      await clearRedisPrefix(redisUrl, prefix);
    });

    it('honours a token revoked on another instance within 1 s', () =>
      expectTokenRevocationSeen(a, b, 'Redis denylist', REDIS_BOUND_MS, 3000));

    it('honours a key revoked on another instance within 1 s, for its tokens and the key itself', async () => {
      const key = await a.keys.create({ name: 'key revoked on B', scopes: ['orders:read'] });
      const token = await mintToken(a.url, key);
      await withToken(a, token).expect(200);
      await withKey(a, key).expect(200);

      const tokenWatch = new RefusalWatch(() => withToken(a, token));
      const keyWatch = new RefusalWatch(() => withKey(a, key));
      await b.keys.revoke(key.id);
      const revokedAt = Date.now();
      await Promise.all([tokenWatch.stopAfter(3000), keyWatch.stopAfter(3000)]);

      console.log(
        `Redis denylist, key revoked on B: A refused the token ${tokenWatch.refusedAt! - revokedAt} ms and the key ` +
          `${keyWatch.refusedAt! - revokedAt} ms after the revocation returned (bound ${REDIS_BOUND_MS} ms)`,
      );
      expect(tokenWatch.refusedAt).toBeDefined();
      expect(keyWatch.refusedAt).toBeDefined();
      expect(tokenWatch.refusedAt! - revokedAt).toBeLessThan(REDIS_BOUND_MS);
      expect(keyWatch.refusedAt! - revokedAt).toBeLessThan(REDIS_BOUND_MS);
      expect([...tokenWatch.unexpected, ...keyWatch.unexpected]).toEqual([]);
    });
  },
);
