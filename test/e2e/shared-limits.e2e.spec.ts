import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiKeyModuleOptions } from 'nestjs-keybridge';
import { generateKey } from 'nestjs-keybridge';
import { databaseTargets, sqlite } from './support/databases.js';
import { clientCredentials, expectOAuthError, mintToken } from './support/oauth.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { startApp, type RunningApp } from './support/app-starter.js';
import { StatusWatch, type WatchedResponse } from './support/status-watch.js';
import { withKey, withToken } from './support/guarded.requests.js';

const REDIS_URL = redisTarget();
/** README: a change made on one instance reaches the others in milliseconds through Redis; 1 s for a loaded machine. */
const BOUND_MS = 1000;

/** Sends the requests one after the other and returns the answers in order. */
async function inTurn(sends: (() => PromiseLike<WatchedResponse>)[]): Promise<WatchedResponse[]> {
  const answers: WatchedResponse[] = [];
  for (const send of sends) answers.push(await send());
  return answers;
}

/** A 429 `rate_limited` of the guard, with `Retry-After` and the key's limit. */
function expectRateLimited(res: WatchedResponse, limit: number): void {
  expect(res.status).toBe(429);
  expect(res.body).toMatchObject({ statusCode: 429, code: 'rate_limited' });
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
  expect(res.headers['ratelimit-limit']).toBe(String(limit));
  expect(res.headers['ratelimit-remaining']).toBe('0');
}

/**
 * Two instances of the app (A and B) on one database and one Redis prefix, as behind a load balancer: every
 * limit holds across both, and a change made on A is applied by B at once.
 */
(REDIS_URL ? describe.each : describe.skip.each)(
  databaseTargets().map((target) => [target.name, target] as const),
)('limits shared through Redis by two instances (%s)', (_name, target) => {
  let databaseUrl: string;
  const running: RunningApp[] = [];
  const prefixes: string[] = [];

  beforeAll(async () => {
    databaseUrl = await target.fresh();
  }, 60_000);

  afterEach(async () => {
    await StatusWatch.stopAll();
    // One after the other: on SQLite, two closing apps' final usage writes would wait on each other's lock.
    for (const app of running.splice(0)) await app.close();
    for (const prefix of prefixes.splice(0)) await clearRedisPrefix(REDIS_URL!, prefix);
  });

  /** A, then B (both run the migrations at start), with `keybridge` and a Redis prefix of their own. */
  async function instances(keybridge: ApiKeyModuleOptions = {}): Promise<[RunningApp, RunningApp]> {
    const prefix = uniqueRedisPrefix();
    prefixes.push(prefix);
    const options = { redis: { connection: REDIS_URL!, keyPrefix: prefix }, ...keybridge };
    const a = await startApp('express', databaseUrl, options);
    running.push(a);
    const b = await startApp('express', databaseUrl, options);
    running.push(b);
    return [a, b];
  }

  it("counts key requests and bearer requests on A and B against the key's one rate limit", async () => {
    const [a, b] = await instances();
    const key = await a.keys.create({
      name: 'limited',
      scopes: ['orders:read'],
      rateLimit: { limit: 6, window: '1m' },
    });
    const token = await mintToken(b.url, key); // minting spends one unit, here on B
    const answers = await inTurn([
      () => withKey(a, key),
      () => withToken(b, token),
      () => withKey(b, key),
      () => withToken(a, token),
      () => withKey(a, key),
      () => withToken(b, token),
      () => withKey(b, key),
      () => withToken(a, token),
    ]);
    expect(answers.map((res) => [res.status, res.headers['ratelimit-remaining']])).toEqual([
      [200, '4'],
      [200, '3'],
      [200, '2'],
      [200, '1'],
      [200, '0'],
      [429, '0'],
      [429, '0'],
      [429, '0'],
    ]);
    for (const res of answers.slice(5)) expectRateLimited(res, 6);
  });

  it('shares the module-wide default rateLimit between the instances', async () => {
    const [a, b] = await instances({ rateLimit: { limit: 4, window: '1m' } });
    const key = await a.keys.create({ name: 'default limit', scopes: ['orders:read'] });
    const answers = await inTurn([a, b, a, b, a, b].map((app) => () => withKey(app, key)));
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200, 429, 429]);
    expect(answers.slice(0, 4).map((res) => res.headers['ratelimit-remaining'])).toEqual([
      '3',
      '2',
      '1',
      '0',
    ]);
    for (const res of answers.slice(4)) expectRateLimited(res, 4);
  });

  it("lets a key's own rate limit override the default, shared between the instances too", async () => {
    const [a, b] = await instances({ rateLimit: { limit: 4, window: '1m' } });
    const key = await a.keys.create({
      name: 'own limit',
      scopes: ['orders:read'],
      rateLimit: { limit: 7, window: '1m' },
    });
    const answers = await inTurn([a, b, a, b, a, b, a, b, a].map((app) => () => withKey(app, key)));
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 429, 429]);
    expect(answers[0].headers['ratelimit-limit']).toBe('7');
    for (const res of answers.slice(7)) expectRateLimited(res, 7);
  });

  it("shares the token endpoint's per-key minting limit (429 rate_limited, RFC 6749 body, Retry-After)", async () => {
    const [a, b] = await instances({
      tokenRateLimit: { perKey: { limit: 3, window: '1m' }, perAddress: false },
    });
    const key = await a.keys.create({ name: 'minting', scopes: ['orders:read'] });
    const other = await a.keys.create({ name: 'another client', scopes: ['orders:read'] });
    const answers = await inTurn(
      [a, b, a, b, a].map((app) => () => clientCredentials(app.url, key.id, key.key)),
    );
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 429, 429]);
    for (const res of answers.slice(3)) {
      expectOAuthError(res as Parameters<typeof expectOAuthError>[0], 429, 'rate_limited', [key.key]);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
    }
    // The limit is the key's: another key still mints on both.
    await mintToken(a.url, other);
    await mintToken(b.url, other);
  });

  it('counts failed authentications from one address across the instances (failedAuthLimit)', async () => {
    const limit = 4;
    const [a, b] = await instances({ failedAuthLimit: { limit, window: '1m' } });
    const good = await a.keys.create({ name: 'good', scopes: ['orders:read'] });
    await withKey(a, good).expect(200);
    await withKey(b, good).expect(200);

    const answers: { on: 'A' | 'B'; res: WatchedResponse }[] = [];
    for (let i = 0; i < 12; i++) {
      const on = i % 2 === 0 ? 'A' : 'B';
      answers.push({ on, res: await withKey(on === 'A' ? a : b, { key: generateKey('kb_live_') }) });
      await sleep(20); // each instance counts the failure in Redis after answering
    }
    const statuses = answers.map(({ res }) => res.status);
    // Each instance learns that the address is over the shared limit from its own next failure: at most one
    // more 401 each. Counted per instance, each would allow 4 (8 in all).
    expect(statuses.slice(0, limit)).toEqual([401, 401, 401, 401]);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(limit + 2);
    expect(statuses.slice(limit + 2)).toEqual(Array(12 - limit - 2).fill(429));
    for (const { res } of answers.slice(-2)) {
      expect(res.body).toMatchObject({
        code: 'rate_limited',
        message: expect.stringMatching(/failed authentication attempts/),
      });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    // A key already verified keeps working from the throttled address.
    await withKey(a, good).expect(200);
    await withKey(b, good).expect(200);
  });

  it('spends a quota of 10 exactly once per request over 30 concurrent requests on A and B', async () => {
    const [a, b] = await instances();
    const key = await a.keys.create({ name: 'quota', scopes: ['orders:read'], remaining: 10 });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => withKey(i % 2 === 0 ? a : b, key)),
    );
    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20);
    for (const res of answers.filter((answer) => answer.status === 429)) {
      expect(res.body).toMatchObject({ statusCode: 429, code: 'quota_exhausted' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect((await a.keys.get(key.id)).remaining).toBe(0);
    expect((await b.keys.get(key.id)).remaining).toBe(0);
  });

  it('applies on B at once scopes reduced on A, though B caches keys for an hour', async () => {
    const [a, b] = await instances({ cache: { ttl: '1h' } });
    const key = await a.keys.create({ name: 'narrowed', scopes: ['orders:read', 'orders:write'] });
    await withKey(b, key).expect(200); // cached on B, whose clock stands still: only the channel can drop it

    const watch = new StatusWatch(() => withKey(b, key), 403, 200, 20);
    await a.keys.update(key.id, { scopes: ['orders:write'] });
    const updatedAt = Date.now();
    await watch.stopAfter(5000);

    console.log(
      `shared limits (${target.name}), scopes reduced on A: B answered 403 ${watch.delayFrom(updatedAt)} ms after ` +
        `the update returned (bound ${BOUND_MS} ms, cache ttl 1 h)`,
    );
    expect(watch.seenAt).toBeDefined();
    expect(watch.delayFrom(updatedAt)).toBeLessThan(BOUND_MS);
    expect(watch.unexpected).toEqual([]);
    expect(watch.answer!.body).toMatchObject({
      code: 'insufficient_scope',
      message: 'Missing scopes: orders:read.',
    });
  });

  it('applies on B at once a key disabled by an instance that caches nothing (an admin process)', async () => {
    const prefix = uniqueRedisPrefix();
    prefixes.push(prefix);
    const redis = { connection: REDIS_URL!, keyPrefix: prefix };
    const admin = await startApp('express', databaseUrl, { redis, cache: false });
    running.push(admin);
    const b = await startApp('express', databaseUrl, { redis, cache: { ttl: '1h' } });
    running.push(b);
    const key = await admin.keys.create({ name: 'disabled by admin', scopes: ['orders:read'] });
    await withKey(b, key).expect(200);

    const watch = new StatusWatch(() => withKey(b, key), 401, 200, 20);
    await admin.keys.disable(key.id);
    const disabledAt = Date.now();
    await watch.stopAfter(5000);
    expect(watch.seenAt).toBeDefined();
    expect(watch.delayFrom(disabledAt)).toBeLessThan(BOUND_MS);
    expect(watch.unexpected).toEqual([]);
  });
});

/**
 * Without Redis the counters live in each process's memory (README, `rateLimit`; the `redis` option): two
 * instances each allow a key its full limit, and a change made on one is seen by the other once its cached
 * copy expires. The Redis suite above is measured against this.
 */
describe('two instances without Redis count limits per instance (sqlite)', () => {
  const running: RunningApp[] = [];

  afterEach(async () => {
    // One after the other: on SQLite, two closing apps' final usage writes would wait on each other's lock.
    for (const app of running.splice(0)) await app.close();
  });

  async function instances(keybridge: ApiKeyModuleOptions = {}): Promise<[RunningApp, RunningApp]> {
    const databaseUrl = await sqlite.fresh();
    const a = await startApp('express', databaseUrl, keybridge);
    running.push(a);
    const b = await startApp('express', databaseUrl, keybridge);
    running.push(b);
    return [a, b];
  }

  it("lets each instance allow a key's full rate limit", async () => {
    const [a, b] = await instances();
    const key = await a.keys.create({
      name: 'limited',
      scopes: ['orders:read'],
      rateLimit: { limit: 3, window: '1m' },
    });
    const onA = await inTurn([a, a, a, a].map((app) => () => withKey(app, key)));
    const onB = await inTurn([b, b, b, b].map((app) => () => withKey(app, key)));
    expect(onA.map((res) => res.status)).toEqual([200, 200, 200, 429]);
    expect(onB.map((res) => res.status)).toEqual([200, 200, 200, 429]);
  });

  it('leaves a change made on A unseen by B until its cached copy expires', async () => {
    const [a, b] = await instances({ cache: { ttl: '1h' } });
    const key = await a.keys.create({ name: 'narrowed', scopes: ['orders:read', 'orders:write'] });
    await withKey(b, key).expect(200);
    await a.keys.update(key.id, { scopes: ['orders:write'] });
    await withKey(a, key).expect(403);
    await sleep(500);
    await withKey(b, key).expect(200);
    b.clock.now += 3_600_001;
    const res = await withKey(b, key).expect(403);
    expect(res.body.code).toBe('insufficient_scope');
  });
});
