import { setTimeout as sleep } from 'node:timers/promises';
import { generateKey, type ApiKeyModuleOptions, type CreatedApiKey } from 'nestjs-keybridge';
import request from 'supertest';
import { databaseTargets, sqlite, type DatabaseTarget } from './support/databases.js';
import {
  API_KEY_TOKEN_TYPE,
  clientCredentials,
  form,
  mintToken,
  TOKEN_EXCHANGE,
  TOKEN_PATH,
} from './support/oauth.js';
import {
  expectAuthUnavailable,
  expectTemporarilyUnavailable,
  StatusRecorder,
  until,
} from './support/outage.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { startApp, type RunningApp } from './support/app-starter.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';
import { revokeToken, withKey, withToken } from './support/guarded.requests.js';

const REDIS_URL = redisTarget();
/** The limited key's rate limit; its window outlasts a run of this file, so every hit stays counted. */
const LIMIT = 5;
const RATE_LIMIT = { limit: LIMIT, window: '10m' };
const FAILED_AUTH_LIMIT = 5;
/** README: everything recovers by itself once Redis is back; 10 s leaves room for reconnection back-off. */
const RECOVERY_MS = 10_000;

const exchange = (app: RunningApp, key: CreatedApiKey) =>
  request(app.url)
    .post(TOKEN_PATH)
    .type('form')
    .send(
      form({ grant_type: TOKEN_EXCHANGE, subject_token: key.key, subject_token_type: API_KEY_TOKEN_TYPE }),
    );
const issuedCount = (app: RunningApp) => app.events.filter((event) => event.type === 'token.issued').length;
/** A never-issued key of the right shape: it passes the checksum, so it is looked up and refused with 401. */
const unknownKey = () => generateKey('kb_live_');
/** Statuses other than those allowed. */
const other = (seen: number[], ...allowed: number[]) => seen.filter((status) => !allowed.includes(status));

/** The module's `redis` option pointing at `url` (through a proxy when `port` is given), with a 1 s store timeout. */
function redisOptions(
  url: string,
  keyPrefix: string,
  port?: number,
  extra: { onOutage?: 'fail-closed' | 'local' } = {},
): ApiKeyModuleOptions {
  return {
    redis: { connection: port ? throughProxy(url, port) : url, keyPrefix, ...extra },
    storeTimeout: '1s',
  };
}

/** A key with a rate limit (so it needs the Redis counter) and one without (so it does not). */
async function limitedAndUnlimited(
  running: RunningApp,
): Promise<{ limited: CreatedApiKey; unlimited: CreatedApiKey }> {
  const limited = await running.keys.create({
    name: 'limited',
    scopes: ['orders:read'],
    rateLimit: RATE_LIMIT,
  });
  const unlimited = await running.keys.create({ name: 'unlimited', scopes: ['orders:read'] });
  return { limited, unlimited };
}

type OutageMode = 'cut' | 'stall' | 'blackhole';

const OUTAGES: Record<OutageMode, { begin(proxy: TcpProxy): unknown; noticeMs: number; label: string }> = {
  cut: { begin: (proxy) => proxy.cut(), noticeMs: 3000, label: 'cut' },
  stall: {
    begin: (proxy) => proxy.stall(),
    noticeMs: 3000,
    label: 'accepting connections but never answering',
  },
  // Subscriptions are pinged every second and count as lost after 3 s of silence: noticed within about 4 s.
  blackhole: {
    begin: (proxy) => proxy.blackhole(),
    noticeMs: 8000,
    label: 'half-open (connections stay open, nothing gets through)',
  },
};

const postgres = databaseTargets().find((target) => target.name === 'postgres');
const outageCases: [string, OutageMode, DatabaseTarget][] = [
  ['cut, keys on sqlite', 'cut', sqlite],
  ['stall, keys on sqlite', 'stall', sqlite],
  ['blackhole, keys on sqlite', 'blackhole', sqlite],
  ...(postgres ? [['cut, keys on postgres', 'cut', postgres] as [string, OutageMode, DatabaseTarget]] : []),
];

/**
 * With the `redis` option, rate limits, minting limits and failed-auth counts live in Redis and the denylist
 * defaults to it. The app reaches Redis through a TCP proxy the test breaks (the shared server keeps running).
 * Fail closed (the default): what needs a shared counter or the denylist answers 503, the rest keeps working,
 * and everything recovers by itself once the link is back.
 */
(REDIS_URL
  ? describe.each(outageCases)
  : describe.skip.each([['TEST_REDIS_URL not set', 'cut' as OutageMode, sqlite]]))(
  'Redis outage, fail closed (%s)',
  (_label, mode, target) => {
    const outage = OUTAGES[mode];
    const redisUrl = REDIS_URL!;
    const prefixes: string[] = [];
    let proxy: TcpProxy;
    let running: RunningApp;
    /** On the same link, with the failed-auth throttle on (every refusal in `running` would feed it). */
    let throttled: RunningApp;
    let limited: CreatedApiKey;
    let unlimited: CreatedApiKey;
    let live: string;
    let revoked: string;
    let revokedWatch: StatusRecorder;

    beforeAll(async () => {
      proxy = await TcpProxy.startFor(redisUrl);
      prefixes.push(uniqueRedisPrefix(), uniqueRedisPrefix());
      running = await startApp(
        'express',
        await target.fresh(),
        redisOptions(redisUrl, prefixes[0], proxy.port),
      );
      throttled = await startApp('express', await sqlite.fresh(), {
        ...redisOptions(redisUrl, prefixes[1], proxy.port),
        failedAuthLimit: { limit: FAILED_AUTH_LIMIT, window: '1m' },
      });
      ({ limited, unlimited } = await limitedAndUnlimited(running));
      // Tokens of a key without a rate limit: only the denylist stands between them and the route.
      live = await mintToken(running.url, unlimited);
      revoked = await mintToken(running.url, unlimited);
      await revokeToken(running, unlimited, revoked).expect(200);
      await withToken(running, revoked).expect(401);
      await withToken(running, live).expect(200);
      await withKey(running, unlimited).expect(200);
      // One hit of the limited key's window, counted in Redis before the outage.
      const first = await withKey(running, limited).expect(200);
      expect(first.headers['ratelimit-remaining']).toBe(String(LIMIT - 1));
    });

    afterAll(async () => {
      await revokedWatch?.stop();
      await running?.close();
      await throttled?.close();
      await proxy?.stop();
      for (const prefix of prefixes) await clearRedisPrefix(redisUrl, prefix);
    });

    describe(`while the link to Redis is ${outage.label}`, () => {
      let tokensBefore: number;

      beforeAll(async () => {
        // The revoked token is watched from before the outage until the app has recovered.
        revokedWatch = new StatusRecorder(() => withToken(running, revoked));
        await sleep(100);
        tokensBefore = issuedCount(running);
        await outage.begin(proxy);
        const noticed = await until(() => withToken(running, live), 503, outage.noticeMs);
        console.log(`Redis ${mode} (${target.name}): bearer requests failed closed after ${noticed.ms} ms`);
        expect(noticed.seen.at(-1)).toBe(503);
        expect(other(noticed.seen, 200, 503)).toEqual([]);
      });

      it('answers a key with a rate limit 503 auth_unavailable with Retry-After: 1, within the store timeout', async () => {
        const started = Date.now();
        const res = await withKey(running, limited);
        const elapsed = Date.now() - started;
        expectAuthUnavailable(res, [limited.key]);
        expect(res.headers['ratelimit-remaining']).toBeUndefined();
        // storeTimeout is 1 s: a Redis that holds the command unanswered does not hold the request longer.
        expect(elapsed).toBeLessThan(3000);
        expect(running.events).toContainEqual(expect.objectContaining({ type: 'auth.unavailable' }));
      });

      it('keeps answering a key without any rate limit 200: the key table is its authority', async () => {
        await withKey(running, unlimited).expect(200);
      });

      it('answers a bearer token 503 auth_unavailable: the denylist cannot vouch for it', async () => {
        expectAuthUnavailable(await withToken(running, live), [live]);
      });

      it('answers POST /oauth/token 503 temporarily_unavailable for both grants and issues no token', async () => {
        expectTemporarilyUnavailable(await clientCredentials(running.url, unlimited.id, unlimited.key), [
          unlimited.key,
        ]);
        expectTemporarilyUnavailable(await exchange(running, unlimited), [unlimited.key]);
        expectTemporarilyUnavailable(await clientCredentials(running.url, limited.id, limited.key), [
          limited.key,
        ]);
        expect(issuedCount(running)).toBe(tokensBefore);
      });

      it('still cuts a flood of wrong keys off with 429, counting the failures in memory meanwhile', async () => {
        const flood = await until(
          () => request(throttled.url).get('/orders').set('X-API-Key', unknownKey()),
          429,
          10_000,
          20,
        );
        const refused = flood.seen.slice(0, -1);
        console.log(
          `Redis ${mode}: failed-auth throttle (limit ${FAILED_AUTH_LIMIT}) answered 429 after ${refused.length} ` +
            `refusals, ${flood.ms} ms`,
        );
        expect(flood.seen.at(-1)).toBe(429);
        expect(other(refused, 401)).toEqual([]);
        expect(refused.length).toBeGreaterThanOrEqual(FAILED_AUTH_LIMIT);
        // Without a reply to wait for, the fallback is immediate: cut off within a couple of requests.
        if (mode !== 'blackhole') expect(refused.length).toBeLessThanOrEqual(FAILED_AUTH_LIMIT + 2);
        const res = await request(throttled.url).get('/orders').set('X-API-Key', unknownKey());
        expect(res.status).toBe(429);
        expect(res.body).toEqual({
          statusCode: 429,
          error: 'Too Many Requests',
          message: expect.stringMatching(/failed authentication attempts/),
          code: 'rate_limited',
        });
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      });
    });

    describe('once the link is back', () => {
      beforeAll(() => proxy.restore());

      it('answers bearer tokens 200 again within 10 s, by itself', async () => {
        const recovered = await until(() => withToken(running, live), 200, RECOVERY_MS);
        console.log(
          `Redis ${mode} (${target.name}): bearer requests 200 again ${recovered.ms} ms after restore`,
        );
        expect(recovered.seen.at(-1)).toBe(200);
        expect(other(recovered.seen, 200, 503)).toEqual([]);
      });

      it('answers the rate-limited key 200 again, the requests refused with 503 having cost it nothing', async () => {
        const recovered = await until(() => withKey(running, limited), 200, RECOVERY_MS);
        expect(recovered.seen.at(-1)).toBe(200);
        expect(other(recovered.seen, 200, 503)).toEqual([]);
        // One hit before the outage and this one: every 503 in between was free.
        expect(recovered.last.headers['ratelimit-remaining']).toBe(String(LIMIT - 2));
        const rest: number[] = [];
        for (let i = 0; i < LIMIT - 1; i++) rest.push((await withKey(running, limited)).status);
        expect(rest).toEqual([...Array<number>(LIMIT - 2).fill(200), 429]);
      });

      it('never answered the token revoked before the outage 200 nor 500, and still refuses it', async () => {
        const seen = await revokedWatch.stop();
        expect(seen).toContain(503);
        expect(other(seen, 401, 503)).toEqual([]);
        const res = await withToken(running, revoked).expect(401);
        expect(res.body.code).toBe('invalid_token');
      });

      it('mints tokens again', async () => {
        const before = issuedCount(running);
        const token = await mintToken(running.url, unlimited);
        await withToken(running, token).expect(200);
        expect(issuedCount(running)).toBe(before + 1);
      });
    });
  },
);

/** `onOutage: 'local'`: rate limits are counted in the instance's memory meanwhile; bearer tokens still fail closed. */
(REDIS_URL ? describe.each([[REDIS_URL]]) : describe.skip.each([['TEST_REDIS_URL not set']]))(
  "Redis outage with onOutage: 'local' (%s)",
  (redisUrl) => {
    const prefix = uniqueRedisPrefix();
    let proxy: TcpProxy;
    let running: RunningApp;
    let limited: CreatedApiKey;
    let unlimited: CreatedApiKey;
    let live: string;

    beforeAll(async () => {
      proxy = await TcpProxy.startFor(redisUrl);
      running = await startApp(
        'express',
        await sqlite.fresh(),
        redisOptions(redisUrl, prefix, proxy.port, { onOutage: 'local' }),
      );
      ({ limited, unlimited } = await limitedAndUnlimited(running));
      live = await mintToken(running.url, unlimited);
      await withToken(running, live).expect(200);
    });

    afterAll(async () => {
      await running?.close();
      await proxy?.stop();
      await clearRedisPrefix(redisUrl, prefix);
    });

    it('serves the rate-limited key 200 up to its limit, then 429 rate_limited, while the link is cut', async () => {
      await proxy.cut();
      const noticed = await until(() => withToken(running, live), 503, 3000);
      expect(noticed.seen.at(-1)).toBe(503);
      const answers = [];
      for (let i = 0; i < LIMIT + 2; i++) answers.push(await withKey(running, limited));
      expect(answers.map((res) => res.status)).toEqual([...Array<number>(LIMIT).fill(200), 429, 429]);
      expect(answers.slice(0, LIMIT).map((res) => res.headers['ratelimit-remaining'])).toEqual(
        Array.from({ length: LIMIT }, (_, i) => String(LIMIT - 1 - i)),
      );
      const refused = answers[LIMIT];
      // The body names the limit that refused and whose it is (additive to the usual four fields).
      expect(refused.body).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        message: expect.any(String),
        code: 'rate_limited',
        limit: 'default',
        scope: 'key',
      });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.text).not.toContain(limited.key);
    });

    it('still answers bearer tokens 503 and POST /oauth/token 503 temporarily_unavailable', async () => {
      const before = issuedCount(running);
      expectAuthUnavailable(await withToken(running, live), [live]);
      expectTemporarilyUnavailable(await clientCredentials(running.url, unlimited.id, unlimited.key), [
        unlimited.key,
      ]);
      expect(issuedCount(running)).toBe(before);
      await withKey(running, unlimited).expect(200);
    });

    it('counts in Redis again once the link is back: the key gets its shared limit, bearer tokens 200', async () => {
      await proxy.restore();
      // The local count is used up, so a 200 means the shared counter (never hit during the cut) is back.
      const recovered = await until(() => withKey(running, limited), 200, RECOVERY_MS);
      console.log(
        `onOutage 'local': rate-limited key counted in Redis again ${recovered.ms} ms after restore`,
      );
      expect(recovered.seen.at(-1)).toBe(200);
      expect(other(recovered.seen, 200, 429)).toEqual([]);
      expect(recovered.last.headers['ratelimit-remaining']).toBe(String(LIMIT - 1));
      const bearer = await until(() => withToken(running, live), 200, RECOVERY_MS);
      expect(bearer.seen.at(-1)).toBe(200);
    });
  },
);

/**
 * Each key change is published on `<prefix>keys:changed`; other instances drop the key from their cache, and
 * drop their whole cache when their subscription comes back. A (through the proxy) and B (direct) share the
 * database and the prefix; the cache ttl is an hour and the test clock does not move, so only the feed can
 * make A see a change made on B.
 */
(REDIS_URL ? describe.each([[REDIS_URL]]) : describe.skip.each([['TEST_REDIS_URL not set']]))(
  'key-cache invalidation across a Redis outage (%s)',
  (redisUrl) => {
    const prefix = uniqueRedisPrefix();
    let proxy: TcpProxy;
    let a: RunningApp;
    let b: RunningApp;

    /** Admitted by the guard (scope `orders:write`), then refused by the route itself with 400: nothing is written. */
    const guardOnly = (app: RunningApp, key: CreatedApiKey) =>
      request(app.url).post('/orders').set('X-API-Key', key.key).send({ item: '', quantity: 0 });

    beforeAll(async () => {
      proxy = await TcpProxy.startFor(redisUrl);
      const databaseUrl = await sqlite.fresh();
      a = await startApp('express', databaseUrl, {
        ...redisOptions(redisUrl, prefix, proxy.port),
        cache: { ttl: '1h' },
      });
      b = await startApp('express', databaseUrl, {
        ...redisOptions(redisUrl, prefix),
        cache: { ttl: '1h' },
      });
    });

    afterAll(async () => {
      await a?.close();
      await b?.close();
      await proxy?.stop();
      await clearRedisPrefix(redisUrl, prefix);
    });

    it('drops a key changed on B from A at once while the link is up', async () => {
      const key = await b.keys.create({ name: 'baseline', scopes: ['orders:read', 'orders:write'] });
      await guardOnly(a, key).expect(400);
      await b.keys.update(key.id, { scopes: ['orders:read'] });
      const seen = await until(() => guardOnly(a, key), 403, 3000, 20);
      console.log(`key change on B seen on A after ${seen.ms} ms (link up)`);
      expect(seen.seen.at(-1)).toBe(403);
      expect(seen.ms).toBeLessThan(1000);
    });

    it('applies a change made on B during a cut once its subscription is back, although its cache ttl is an hour', async () => {
      const key = await b.keys.create({
        name: 'changed during cut',
        scopes: ['orders:read', 'orders:write'],
      });
      const probe = await b.keys.create({ name: 'probe', scopes: ['orders:read'] });
      const token = await mintToken(a.url, probe);
      await guardOnly(a, key).expect(400); // cached on A
      await withToken(a, token).expect(200);

      await proxy.cut();
      // A's subscriptions are down once its bearer requests fail closed.
      expect((await until(() => withToken(a, token), 503, 3000)).seen.at(-1)).toBe(503);
      await b.keys.update(key.id, { scopes: ['orders:read'] });
      await guardOnly(b, key).expect(403);
      // While cut, A cannot hear of the change and serves its cached entry: the documented bound for a change
      // made elsewhere while the feed is down is the cache ttl (here an hour).
      await sleep(300);
      await guardOnly(a, key).expect(400);

      await proxy.restore();
      const applied = await until(() => guardOnly(a, key), 403, RECOVERY_MS);
      console.log(`key change made on B during the cut applied on A ${applied.ms} ms after restore`);
      expect(applied.seen.at(-1)).toBe(403);
      expect(applied.last.body).toMatchObject({ code: 'insufficient_scope' });
      expect(other(applied.seen, 400, 403)).toEqual([]);
    });
  },
);

/** An instance that starts while Redis is unreachable comes up, fails closed where it must, and catches up. */
(REDIS_URL ? describe.each([[REDIS_URL]]) : describe.skip.each([['TEST_REDIS_URL not set']]))(
  'instance started during a Redis outage (%s)',
  (redisUrl) => {
    it('answers a rate-limited key 503 and an unlimited key 200, then 200 for both once Redis is back', async () => {
      const prefix = uniqueRedisPrefix();
      const proxy = await TcpProxy.startFor(redisUrl);
      await proxy.cut();
      const running = await startApp(
        'express',
        await sqlite.fresh(),
        redisOptions(redisUrl, prefix, proxy.port),
      );
      try {
        const { limited, unlimited } = await limitedAndUnlimited(running);
        expectAuthUnavailable(await withKey(running, limited), [limited.key]);
        await withKey(running, unlimited).expect(200);
        expectTemporarilyUnavailable(await clientCredentials(running.url, unlimited.id, unlimited.key));

        await proxy.restore();
        const recovered = await until(() => withKey(running, limited), 200, RECOVERY_MS);
        console.log(
          `instance started during the outage: rate-limited key 200 ${recovered.ms} ms after restore`,
        );
        expect(recovered.seen.at(-1)).toBe(200);
        expect(other(recovered.seen, 200, 503)).toEqual([]);
        await withKey(running, unlimited).expect(200);
        // The denylist's subscription reconnects on its own connection, apart from the command connection
        // that counts the rate limit: minting waits for it, within the same recovery bound.
        const minted = await until(
          () => clientCredentials(running.url, unlimited.id, unlimited.key),
          200,
          RECOVERY_MS,
        );
        expect(minted.seen.at(-1)).toBe(200);
        expect(other(minted.seen, 200, 503)).toEqual([]);
        await withToken(running, minted.last.body.access_token as string).expect(200);
      } finally {
        await running.close();
        await proxy.stop();
        await clearRedisPrefix(redisUrl, prefix);
      }
    });
  },
);

/**
 * The half-open case as it happens: a NAT or load balancer forgets idle connections without telling either
 * end, while Redis itself stays reachable. The app must notice the silence on every connection it relies on
 * and make new ones; it fails closed meanwhile.
 */
(REDIS_URL ? describe.each([[REDIS_URL]]) : describe.skip.each([['TEST_REDIS_URL not set']]))(
  'Redis connections silently forgotten by the network (%s)',
  (redisUrl) => {
    it('fails closed, then recovers by itself on new connections within 15 s', async () => {
      const prefix = uniqueRedisPrefix();
      const proxy = await TcpProxy.startFor(redisUrl);
      const running = await startApp(
        'express',
        await sqlite.fresh(),
        redisOptions(redisUrl, prefix, proxy.port),
      );
      try {
        const { limited, unlimited } = await limitedAndUnlimited(running);
        const token = await mintToken(running.url, unlimited);
        await withKey(running, limited).expect(200);
        await withToken(running, token).expect(200);

        proxy.drop();
        const dropped = Date.now();
        const noticed = await until(() => withToken(running, token), 503, 8000);
        expect(noticed.seen.at(-1)).toBe(503);
        await withKey(running, unlimited).expect(200);

        // Both watched at once, each for up to 15 s.
        const recovery = async (send: () => PromiseLike<{ status: number }>) => {
          const watched = await until(send, 200, 15_000);
          const after = Date.now() - dropped;
          const summary = `${watched.seen.at(-1)} ${after} ms after the drop`;
          return { ...watched, summary };
        };
        const [bearer, key] = await Promise.all([
          recovery(() => withToken(running, token)),
          recovery(() => withKey(running, limited)),
        ]);
        console.log(
          `connections dropped silently: bearer 503 after ${noticed.ms} ms; then bearer ${bearer.summary}, ` +
            `rate-limited key ${key.summary}`,
        );
        expect(bearer.seen.at(-1)).toBe(200);
        expect(key.seen.at(-1)).toBe(200);
        expect(other([...bearer.seen, ...key.seen], 200, 503)).toEqual([]);
      } finally {
        await running.close();
        await proxy.stop();
        await clearRedisPrefix(redisUrl, prefix);
      }
    }, 60_000);
  },
);
