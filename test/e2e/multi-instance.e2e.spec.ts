import { setTimeout as sleep } from 'node:timers/promises';
import { generateKey } from 'nestjs-keybridge';
import request from 'supertest';
import { databaseTargets } from './support/databases.js';
import { expectInvalidToken, mintToken } from './support/oauth.js';
import { clearRedisPrefix, deleteRedisKeys, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import {
  runKeysCli,
  SampleAppProcess,
  withDiagnostics,
  type CliResult,
} from './support/sample-app-process.js';
import { freePort } from './support/app-starter.js';
import { TEST_PEPPER, TEST_SIGNING_KEY } from './support/test-secrets.js';
import { StatusWatch, type WatchedResponse } from './support/status-watch.js';
import { RedisClusterFixture } from './support/redis-cluster.js';
import { redisServerBinary } from './support/redis-server.js';
import { RedisSentinelFixture, SENTINEL_MASTER_NAME } from './support/redis-sentinel.js';

const POSTGRES = databaseTargets().find((target) => target.name === 'postgres');
const REDIS_URL = redisTarget();
/**
 * README: with Redis, a change made on one instance reaches the others in milliseconds (pub/sub); 1 s leaves
 * room for a loaded machine and is still far below the verified-key cache ttl (5 s) that bounds it without.
 */
const BOUND_MS = 1000;
const POLL_EVERY_MS = 20;
/** Longer than the cache ttl: a change the channel failed to carry shows up as a ~5 s delay, not as nothing. */
const WATCH_MS = 8000;
/** Both instances are one app behind a load balancer: the same public URL, so a token from one verifies on the other. */
const ISSUER = 'http://api.keybridge.test';
/** The sample app's default `failedAuthLimit`: 60 failures per minute per client address. */
const FAILED_AUTH_LIMIT = 60;
/** A key of the right shape anywhere in a log line. */
const KEY_PATTERN = /kb_(live|test)_[0-9A-Za-z]{16,}/;

interface IssuedKey {
  id: string;
  key: string;
}

/**
 * Two processes of the built sample app (`node dist/sample-app/main.js`) on one PostgreSQL database and one Redis
 * prefix, as they would run behind a load balancer. Keys are made on A (through the admin API) and changed on A
 * or by the CLI (a third process); B must honour every change within the bound, though it had the key cached.
 */
(POSTGRES && REDIS_URL ? describe : describe.skip)(
  'two instances of the sample app on PostgreSQL and Redis',
  () => {
    let env: Record<string, string>;
    let prefix: string;
    let a: SampleAppProcess | undefined;
    let b: SampleAppProcess | undefined;
    let admin: IssuedKey;
    /** Every key and token handed out or sent during the suite: none may reach a log line. */
    const secrets: string[] = [];
    /** CLI runs whose output is a log (not the `create --json` that prints the key on purpose). */
    const cliLogs: string[] = [];

    beforeAll(async () => {
      prefix = uniqueRedisPrefix();
      // Tables dropped; the first instance runs the migrations, the second starts once it is up.
      const databaseUrl = await POSTGRES!.fresh();
      env = {
        DATABASE_URL: databaseUrl,
        REDIS_URL: REDIS_URL!,
        KEYBRIDGE_REDIS_PREFIX: prefix,
        KEYBRIDGE_PEPPER: TEST_PEPPER,
        KEYBRIDGE_SIGNING_KEY: TEST_SIGNING_KEY,
        KEYBRIDGE_ISSUER: ISSUER,
      };
      const started = Date.now();
      a = await SampleAppProcess.start('A', await freePort(), env);
      const aUp = Date.now();
      b = await SampleAppProcess.start('B', await freePort(), env);
      const bUp = Date.now();
      const created = await runKeysCli(
        ['create', '--name', 'admin', '--scopes', 'keys:admin', '--json'],
        env,
      );
      if (created.code !== 0) throw new Error(`keys CLI create failed (${created.code}): ${created.stderr}`);
      cliLogs.push(created.stderr);
      admin = JSON.parse(created.stdout) as IssuedKey;
      secrets.push(admin.key);
      console.log(
        `multi-instance: A up in ${aUp - started} ms (with migrations), B in ${bUp - aUp} ms, ` +
          `admin key made by the CLI in ${created.ms} ms`,
      );
    }, 180_000);

    afterEach(() => StatusWatch.stopAll());

    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      if (prefix) await clearRedisPrefix(REDIS_URL!, prefix);
    }, 30_000);

    const apps = () => [a, b];
    const adminCall = (method: 'post' | 'patch', path: string, body: object = {}) =>
      request(a!.url)[method](path).set('X-API-Key', admin.key).send(body);
    const withKey = (app: SampleAppProcess, key: string) =>
      request(app.url).get('/orders').set('X-API-Key', key);
    const withToken = (app: SampleAppProcess, token: string) =>
      request(app.url).get('/orders').set('Authorization', `Bearer ${token}`);

    /** A key made through A's admin API (`POST /keys`). */
    async function createKey(input: object): Promise<IssuedKey> {
      const res = await adminCall('post', '/keys', input);
      expect(res.status).toBe(201);
      const key = res.body as IssuedKey;
      secrets.push(key.key);
      return key;
    }

    async function tokenFor(key: IssuedKey): Promise<string> {
      const token = await mintToken(a!.url, key);
      secrets.push(token);
      return token;
    }

    function expectWithinBound(watch: StatusWatch, since: number): void {
      expect(watch.seenAt).toBeDefined();
      expect(watch.delayFrom(since)).toBeLessThan(BOUND_MS);
      expect(watch.unexpected).toEqual([]);
    }

    it('refuses on B a key revoked on A within 1 s, the key itself and a token minted from it', () =>
      withDiagnostics(apps(), async () => {
        const key = await createKey({ name: 'revoked on A', scopes: ['orders:read'] });
        const token = await tokenFor(key);
        // Cached on B just now (for 5 s): a refusal well before that comes through Redis.
        await withKey(b!, key.key).expect(200);
        await withToken(b!, token).expect(200);

        const keyWatch = new StatusWatch(() => withKey(b!, key.key), 401, 200, POLL_EVERY_MS);
        const tokenWatch = new StatusWatch(() => withToken(b!, token), 401, 200, POLL_EVERY_MS);
        const res = await adminCall('post', `/keys/${key.id}/revoke`, { reason: 'leaked' });
        const answeredAt = Date.now();
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ id: key.id, status: 'revoked' });
        await Promise.all([keyWatch.stopAfter(WATCH_MS), tokenWatch.stopAfter(WATCH_MS)]);

        console.log(
          `multi-instance, key revoked on A: B refused the key ${keyWatch.delayFrom(answeredAt)} ms and its token ` +
            `${tokenWatch.delayFrom(answeredAt)} ms after A answered (bound ${BOUND_MS} ms; ` +
            `${keyWatch.sent} and ${tokenWatch.sent} polls)`,
        );
        expectWithinBound(keyWatch, answeredAt);
        expectWithinBound(tokenWatch, answeredAt);
        expect((keyWatch.answer!.body as { code: string }).code).toBe('invalid_api_key');
        expectInvalidToken(tokenWatch.answer as WatchedResponse);
        // And for good: A refuses both too.
        await withKey(a!, key.key).expect(401);
        await withToken(a!, token).expect(401);
      }));

    it('applies on B, within 1 s, scopes reduced on A, though B had the key cached', () =>
      withDiagnostics(apps(), async () => {
        const key = await createKey({ name: 'narrowed on A', scopes: ['orders:read', 'orders:write'] });
        await withKey(b!, key.key).expect(200);

        const watch = new StatusWatch(() => withKey(b!, key.key), 403, 200, POLL_EVERY_MS);
        const res = await adminCall('patch', `/keys/${key.id}`, { scopes: ['orders:write'] });
        const answeredAt = Date.now();
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ id: key.id, scopes: ['orders:write'] });
        await watch.stopAfter(WATCH_MS);

        console.log(
          `multi-instance, scopes reduced on A: B answered 403 ${watch.delayFrom(answeredAt)} ms after A answered ` +
            `(bound ${BOUND_MS} ms, cache ttl 5000 ms; ${watch.sent} polls)`,
        );
        expectWithinBound(watch, answeredAt);
        expect(watch.answer!.body).toMatchObject({
          code: 'insufficient_scope',
          message: 'Missing scopes: orders:read.',
        });
        // The key still works on B for what it kept.
        await request(b!.url)
          .post('/orders')
          .set('X-API-Key', key.key)
          .send({ item: 'tea', quantity: 1 })
          .expect(201);
      }));

    it('refuses on B within 1 s a key disabled on A, and accepts it again within 1 s once enabled', () =>
      withDiagnostics(apps(), async () => {
        const key = await createKey({ name: 'disabled on A', scopes: ['orders:read'] });
        await withKey(b!, key.key).expect(200);

        const refusal = new StatusWatch(() => withKey(b!, key.key), 401, 200, POLL_EVERY_MS);
        const disabled = await adminCall('post', `/keys/${key.id}/disable`);
        const disabledAt = Date.now();
        expect(disabled.status).toBe(200);
        expect(disabled.body).toMatchObject({ id: key.id, status: 'disabled' });
        await refusal.stopAfter(WATCH_MS);
        console.log(
          `multi-instance, disabled on A: B refused the key ${refusal.delayFrom(disabledAt)} ms after A answered ` +
            `(bound ${BOUND_MS} ms)`,
        );
        expectWithinBound(refusal, disabledAt);
        expect((refusal.answer!.body as { code: string }).code).toBe('invalid_api_key');

        // B has just read the disabled key from the database and cached it: only the channel tells it otherwise.
        const acceptance = new StatusWatch(() => withKey(b!, key.key), 200, 401, POLL_EVERY_MS);
        const enabled = await adminCall('post', `/keys/${key.id}/enable`);
        const enabledAt = Date.now();
        expect(enabled.status).toBe(200);
        expect(enabled.body).toMatchObject({ id: key.id, status: 'active' });
        await acceptance.stopAfter(WATCH_MS);

        console.log(
          `multi-instance, enabled again on A: B accepted the key ${acceptance.delayFrom(enabledAt)} ms after A ` +
            `answered (bound ${BOUND_MS} ms)`,
        );
        expectWithinBound(acceptance, enabledAt);
      }));

    it('holds a key rate limit of 10 per minute across both instances, one request after another and all at once', () =>
      withDiagnostics(apps(), async () => {
        const limit = 10;
        const key = await createKey({
          name: 'limited',
          scopes: ['orders:read'],
          rateLimit: { limit, window: '1m' },
        });
        const answers: { on: 'A' | 'B'; res: WatchedResponse }[] = [];
        const send = async (on: 'A' | 'B') =>
          answers.push({ on, res: await withKey(on === 'A' ? a! : b!, key.key) });

        // Alternating: each instance sees the other's requests in the count.
        for (const on of ['A', 'B', 'A', 'B'] as const) await send(on);
        // Then 16 at once, 8 on each.
        await Promise.all(Array.from({ length: 16 }, (_, i) => send(i % 2 === 0 ? 'A' : 'B')));
        // Spent: both instances refuse.
        await send('A');
        await send('B');

        const allowed = answers.filter(({ res }) => res.status === 200);
        const refused = answers.filter(({ res }) => res.status === 429);
        const count = (list: typeof answers, on: 'A' | 'B') =>
          list.filter((answer) => answer.on === on).length;
        console.log(
          `multi-instance, rate limit ${limit}/min: ${allowed.length} × 200 (A ${count(allowed, 'A')}, B ${count(allowed, 'B')}), ` +
            `${refused.length} × 429 (A ${count(refused, 'A')}, B ${count(refused, 'B')}) of ${answers.length} requests`,
        );
        expect(
          answers.slice(0, 4).map(({ res }) => [res.status, res.headers['ratelimit-remaining']]),
        ).toEqual([
          [200, '9'],
          [200, '8'],
          [200, '7'],
          [200, '6'],
        ]);
        expect(allowed).toHaveLength(limit);
        expect(refused).toHaveLength(answers.length - limit);
        // One counter: every allowed request saw a different remainder.
        expect(
          allowed.map(({ res }) => Number(res.headers['ratelimit-remaining'])).sort((x, y) => x - y),
        ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        for (const { res } of refused) {
          expect(res.body).toMatchObject({ statusCode: 429, code: 'rate_limited' });
          expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
          expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
          expect(res.headers['ratelimit-limit']).toBe(String(limit));
        }
        expect(answers.slice(-2).map(({ on, res }) => [on, res.status])).toEqual([
          ['A', 429],
          ['B', 429],
        ]);
      }));

    it('refuses on both instances within 1 s a key revoked by the CLI, the key and its token', () =>
      withDiagnostics(apps(), async () => {
        const key = await createKey({ name: 'revoked by the CLI', scopes: ['orders:read'] });
        const token = await tokenFor(key);
        for (const app of [a!, b!]) {
          await withKey(app, key.key).expect(200);
          await withToken(app, token).expect(200);
        }

        const watches = {
          'key on A': new StatusWatch(() => withKey(a!, key.key), 401, 200, POLL_EVERY_MS),
          'key on B': new StatusWatch(() => withKey(b!, key.key), 401, 200, POLL_EVERY_MS),
          'token on A': new StatusWatch(() => withToken(a!, token), 401, 200, POLL_EVERY_MS),
          'token on B': new StatusWatch(() => withToken(b!, token), 401, 200, POLL_EVERY_MS),
        };
        const cli: CliResult = await runKeysCli(['revoke', key.id], env);
        cliLogs.push(cli.stdout + cli.stderr);
        expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
        expect(cli.stdout).toContain(`Revoked ${key.id}`);
        await Promise.all(Object.values(watches).map((watch) => watch.stopAfter(WATCH_MS)));

        console.log(
          `multi-instance, key revoked by the CLI (ran ${cli.ms} ms): refused ` +
            Object.entries(watches)
              .map(([what, watch]) => `${what} ${watch.delayFrom(cli.exitedAt)} ms`)
              .join(', ') +
            ` after the CLI exited (bound ${BOUND_MS} ms)`,
        );
        for (const watch of Object.values(watches)) expectWithinBound(watch, cli.exitedAt);
      }));

    it("audits each change made through A's admin API with the client address and the admin key, in A's log", () =>
      withDiagnostics(apps(), async () => {
        const key = await createKey({ name: 'audited', scopes: ['orders:read', 'orders:write'] });
        expect((await adminCall('patch', `/keys/${key.id}`, { scopes: ['orders:read'] })).status).toBe(200);
        expect((await adminCall('post', `/keys/${key.id}/disable`)).status).toBe(200);
        expect((await adminCall('post', `/keys/${key.id}/enable`)).status).toBe(200);
        expect((await adminCall('post', `/keys/${key.id}/revoke`, { reason: 'leaked' })).status).toBe(200);
        const expected = [
          { type: 'key.created', keyId: key.id },
          { type: 'key.updated', keyId: key.id, changes: ['scopes'] },
          { type: 'key.disabled', keyId: key.id },
          { type: 'key.enabled', keyId: key.id },
          { type: 'key.revoked', keyId: key.id, reason: 'leaked' },
        ];
        // The lines are written before the answers; give the pipe a moment all the same.
        const deadline = Date.now() + 2000;
        let events = a!.auditEvents();
        while (Date.now() < deadline && !expected.every((e) => events.some((event) => matches(event, e)))) {
          await sleep(50);
          events = a!.auditEvents();
        }
        for (const event of expected) {
          expect(events).toContainEqual(
            expect.objectContaining({ ...event, ip: '127.0.0.1', actor: admin.id }),
          );
        }
        const revoked = events.find((event) => matches(event, expected[4]))!;
        console.log(`multi-instance, audit line on A: ${JSON.stringify(revoked)}`);
      }));

    // Last: it leaves 127.0.0.1 throttled for unknown credentials on both instances for the rest of the minute.
    it('throttles an address that failed 60 times in total across both instances, on both', () =>
      withDiagnostics(apps(), async () => {
        // The refusals of the tests above were counted too (same address, same Redis): start the window afresh.
        await deleteRedisKeys(REDIS_URL!, `${prefix}rl:{failed-auth:*`);
        const answers: { on: 'A' | 'B'; res: WatchedResponse }[] = [];
        const lastOn = (on: 'A' | 'B', count: number) =>
          answers.filter((answer) => answer.on === on).slice(-count);
        const throttled = (on: 'A' | 'B') => {
          const last = lastOn(on, 2);
          return last.length === 2 && last.every(({ res }) => res.status === 429);
        };
        for (let i = 0; i < 2 * FAILED_AUTH_LIMIT && !(throttled('A') && throttled('B')); i++) {
          const on = i % 2 === 0 ? 'A' : 'B';
          const unknown = generateKey('kb_live_');
          secrets.push(unknown);
          answers.push({ on, res: await withKey(on === 'A' ? a! : b!, unknown) });
          await sleep(20); // each instance counts the failure in Redis after answering
        }

        const failures = answers.filter(({ res }) => res.status === 401);
        const firstThrottled = answers.findIndex(({ res }) => res.status === 429);
        console.log(
          `multi-instance, failed-auth throttle (limit ${FAILED_AUTH_LIMIT}/min per address): ${failures.length} × 401 ` +
            `(A ${failures.filter(({ on }) => on === 'A').length}, B ${failures.filter(({ on }) => on === 'B').length}), ` +
            `first 429 at request ${firstThrottled + 1} (on ${answers[firstThrottled]?.on}), ${answers.length} requests`,
        );
        expect(
          answers.map(({ res }) => res.status).filter((status) => status !== 401 && status !== 429),
        ).toEqual([]);
        expect(answers.slice(0, FAILED_AUTH_LIMIT).every(({ res }) => res.status === 401)).toBe(true);
        // Each instance learns that the address is over the shared limit from its own next failure: at most
        // one more each. Counted per instance, it would be 120.
        expect(failures.length).toBeLessThanOrEqual(FAILED_AUTH_LIMIT + 2);
        for (const on of ['A', 'B'] as const) {
          const mine = answers.filter((answer) => answer.on === on).map(({ res }) => res.status);
          // Once throttled, an instance stays so.
          expect(mine.slice(mine.indexOf(429)).every((status) => status === 429)).toBe(true);
          const [{ res }] = lastOn(on, 1);
          expect(res.status).toBe(429);
          expect(res.body).toMatchObject({
            code: 'rate_limited',
            message: expect.stringMatching(/failed authentication attempts/),
          });
          expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
          expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
        }
      }));

    it('wrote no key and no token to any log line of either instance or of the CLI', () => {
      const logs = { A: a!.log, B: b!.log, CLI: cliLogs.join('\n') };
      expect(secrets.length).toBeGreaterThan(60);
      for (const [name, log] of Object.entries(logs)) {
        expect({ name, key: KEY_PATTERN.exec(log)?.[0] }).toEqual({ name, key: undefined });
        expect({ name, leaked: secrets.filter((secret) => log.includes(secret)) }).toEqual({
          name,
          leaked: [],
        });
      }
      // Not for want of logging: each instance logged the requests that carried keys and tokens.
      for (const app of [a!, b!]) {
        const requests = app.lines.filter(
          (line) => line.includes('[HTTP]') && /"(x-api-key|authorization)":/.test(line),
        );
        expect(requests.length).toBeGreaterThan(50);
      }
    });
  },
);

/** The servers a topology suite starts, and the sample app's environment variables that name them. */
interface Topology {
  env: Record<string, string>;
  stop(): Promise<void>;
}

const TOPOLOGIES: [string, () => Promise<Topology>][] = [
  [
    'a Redis Cluster (REDIS_CLUSTER_NODES)',
    async () => {
      const cluster = await RedisClusterFixture.start([17031, 17032, 17033]);
      const nodes = cluster.seeds.map(({ host, port }) => `${host}:${port}`).join(',');
      return { env: { REDIS_CLUSTER_NODES: nodes }, stop: () => cluster.stop() };
    },
  ],
  [
    'Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_NAME)',
    async () => {
      const sentinel = await RedisSentinelFixture.start(17040, 17041, [17050, 17051, 17052]);
      const sentinels = sentinel.addresses.map(({ host, port }) => `${host}:${port}`).join(',');
      return {
        env: { REDIS_SENTINELS: sentinels, REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME },
        stop: () => sentinel.stop(),
      };
    },
  ],
];

/**
 * The sample app reaches a Redis Cluster or a master through Sentinel from its environment alone: the server
 * comes up healthy (its health check pings Redis), and a key revoked by the CLI (a second process, configured
 * the same way) is refused by the server within the bound, though it had the key cached.
 */
(POSTGRES && redisServerBinary() ? describe.each(TOPOLOGIES) : describe.skip.each(TOPOLOGIES))(
  'the sample app on %s',
  (_name, topology) => {
    let servers: Topology | undefined;
    let app: SampleAppProcess | undefined;
    let env: Record<string, string>;

    beforeAll(async () => {
      servers = await topology();
      env = {
        DATABASE_URL: await POSTGRES!.fresh(),
        KEYBRIDGE_PEPPER: TEST_PEPPER,
        KEYBRIDGE_SIGNING_KEY: TEST_SIGNING_KEY,
        KEYBRIDGE_ISSUER: ISSUER,
        ...servers.env,
      };
      app = await SampleAppProcess.start('A', await freePort(), env);
    }, 90_000);

    afterAll(async () => {
      await StatusWatch.stopAll();
      await app?.stop();
      await servers?.stop();
    }, 30_000);

    it('refuses within 1 s a key revoked by the CLI, the key and its token', () =>
      withDiagnostics([app], async () => {
        const created = await runKeysCli(
          ['create', '--name', 'agent', '--scopes', 'orders:read', '--json'],
          env,
        );
        expect(created.code).toBe(0);
        const key = JSON.parse(created.stdout) as IssuedKey;
        const token = await mintToken(app!.url, key);
        await request(app!.url).get('/orders').set('X-API-Key', key.key).expect(200);
        await request(app!.url).get('/orders').set('Authorization', `Bearer ${token}`).expect(200);

        const watches = [
          new StatusWatch(
            () => request(app!.url).get('/orders').set('X-API-Key', key.key),
            401,
            200,
            POLL_EVERY_MS,
          ),
          new StatusWatch(
            () => request(app!.url).get('/orders').set('Authorization', `Bearer ${token}`),
            401,
            200,
            POLL_EVERY_MS,
          ),
        ];
        const cli = await runKeysCli(['revoke', key.id], env);
        expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
        await Promise.all(watches.map((watch) => watch.stopAfter(WATCH_MS)));
        console.log(
          `sample app on ${_name}: key refused ${watches[0].delayFrom(cli.exitedAt)} ms, token ` +
            `${watches[1].delayFrom(cli.exitedAt)} ms after the CLI exited (bound ${BOUND_MS} ms)`,
        );
        for (const watch of watches) {
          expect(watch.seenAt).toBeDefined();
          expect(watch.delayFrom(cli.exitedAt)).toBeLessThan(BOUND_MS);
          expect(watch.unexpected).toEqual([]);
        }
      }));
  },
);

function matches(event: Record<string, unknown>, expected: Record<string, unknown>): boolean {
  return Object.entries(expected).every(
    ([name, value]) => JSON.stringify(event[name]) === JSON.stringify(value),
  );
}
