import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, type CryptoKey as JoseKey } from 'jose';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { SubjectLimitsService, type KeybridgeRedisOptions } from 'nestjs-keybridge';
import { startApp, type KeybridgeOptions, type RunningApp } from './app-starter.js';
import { withKey, withToken, revokeToken } from './guarded.requests.js';
import { expectOAuthError, form, mintToken, TOKEN_PATH } from './oauth.js';
import { mostAdmittedWithinWindow, timed, type TimedAnswer } from './rolling-window.js';
import { StatusWatch } from './status-watch.js';

/**
 * The checks every Redis topology (one server, Sentinel, Cluster) must pass with two instances of a fixture
 * app on one database and one Redis: one rate limit, revocations seen by the other instance within the bound,
 * each client assertion accepted once.
 */

/** README: a change made on one instance reaches the others within 1 s through Redis. */
export const BOUND_MS = 1000;
/** Every instance of these suites names the same issuer, so a token or an assertion is good on either. */
export const ISSUER = 'http://api.keybridge.test';

/** A, then B, on `databaseUrl` with `redis` as their `redis` option (and `extra` options, such as a limit mode). */
export async function twoInstances(
  databaseUrl: string,
  redisA: KeybridgeRedisOptions,
  redisB: KeybridgeRedisOptions = redisA,
  extra: KeybridgeOptions = {},
): Promise<[RunningApp, RunningApp]> {
  const a = await startApp('express', databaseUrl, { ...extra, redis: redisA }, { issuer: ISSUER });
  try {
    return [a, await startApp('fastify', databaseUrl, { ...extra, redis: redisB }, { issuer: ISSUER })];
  } catch (error) {
    await a.close();
    throw error;
  }
}

/** A key limited to 4 requests a minute is served 4 times across A and B, then refused on both. */
export async function expectSharedRateLimit(a: RunningApp, b: RunningApp): Promise<void> {
  const key = await a.keys.create({
    name: 'limited',
    scopes: ['orders:read'],
    rateLimit: { limit: 4, window: '1m' },
  });
  const statuses: number[] = [];
  for (const app of [a, b, a, b, a, b]) statuses.push((await withKey(app, key)).status);
  expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
}

/**
 * `clients` clients per instance, each sending `GET /orders` with `key` as fast as it is answered, to A and
 * B alike, until `stop` resolves; the answers, timed.
 */
export async function hammer(
  apps: readonly RunningApp[],
  key: { key: string },
  stop: Promise<unknown>,
  clients = 4,
): Promise<TimedAnswer[]> {
  let stopped = false;
  void stop.finally(() => (stopped = true));
  const answers: TimedAnswer[] = [];
  await Promise.all(
    Array.from({ length: clients * apps.length }, async (_, client) => {
      while (!stopped) answers.push(await timed(apps[client % apps.length], key));
    }),
  );
  return answers;
}

/**
 * The leased mode (A and B started with `rateLimitMode: 'leased'`, `rateLimitLease: lease`): a key limited to
 * 20 requests in 2 s, hammered on both for two windows, admits at most limit + 2 × lease in any window, and
 * still about its limit per window; never another answer than 200 or 429.
 */
export async function expectLeasedBound(a: RunningApp, b: RunningApp, lease: number): Promise<void> {
  const LIMIT = 20;
  const WINDOW_MS = 2000;
  const key = await a.keys.create({
    name: 'leased',
    scopes: ['orders:read'],
    rateLimit: { limit: LIMIT, window: '2s' },
  });
  const answers = await hammer([a, b], key, sleep(2 * WINDOW_MS + 500));
  const statuses = answers.map((answer) => answer.status);
  const admitted = statuses.filter((status) => status === 200).length;
  const most = mostAdmittedWithinWindow(answers, WINDOW_MS);
  console.log(
    `leased bound: ${answers.length} requests, ${admitted} admitted; most within one window ${most} ` +
      `(limit ${LIMIT}, bound ${LIMIT + 2 * lease})`,
  );
  expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
  expect(most).toBeLessThanOrEqual(LIMIT + 2 * lease);
  expect(admitted).toBeGreaterThanOrEqual(2 * LIMIT);
}

/** A smooth limit of 2 in 2 s admits one request, refuses the next on the other instance, admits again 1 s on. */
export async function expectSharedSmoothLimit(a: RunningApp, b: RunningApp): Promise<void> {
  const key = await a.keys.create({
    name: 'smooth',
    scopes: ['orders:read'],
    rateLimit: { limit: 2, window: '2s', policy: 'smooth' },
  });
  const first = await timed(a, key);
  const second = await timed(b, key);
  expect([first.status, second.status]).toEqual([200, 429]);
  expect(second.headers['retry-after']).toBe('1');
  expect(second.body).toMatchObject({ code: 'rate_limited', limit: 'default' });
  await sleep(1100);
  expect((await timed(b, key)).status).toBe(200);
  expect((await timed(a, key)).status).toBe(429);
}

/**
 * Two named limits of a key and its owner's limit, spent by an `@Cost(5)` route on A and B: a counter's limits
 * are one all-or-nothing check (one script on the counter's hash slot), the refusing limit is named, and a
 * request the key refused charged the owner nothing (the key's counter is checked first).
 */
export async function expectNamedLimitsWithCost(a: RunningApp, b: RunningApp): Promise<void> {
  const subject = `owner-${randomUUID()}`;
  await a.app.get(SubjectLimitsService).setSubjectLimits(subject, { rateLimit: { limit: 17, window: '1h' } });
  const key = await a.keys.create({
    name: 'exporter',
    subject,
    scopes: ['orders:read'],
    rateLimits: { burst: { limit: 12, window: '1m' }, sustained: { limit: 15, window: '1h' } },
  });
  const exports: TimedAnswer[] = [];
  for (const app of [a, b, a]) exports.push(await timed(app, key, 'post', '/orders/export'));
  expect(exports.map((answer) => answer.status)).toEqual([200, 200, 429]);
  expect(exports[0].headers['ratelimit-policy']).toMatch(/^"burst";q=12;w=60, "sustained";q=15;w=3600/);
  expect(exports[1].headers['ratelimit']).toMatch(/^"burst";r=2;t=\d+, "sustained";r=5;t=\d+/);
  expect(exports[2].body).toMatchObject({ code: 'rate_limited', limit: 'burst', scope: 'key' });
  // The refused export took nothing: two reads fit in the burst limit, the third does not.
  const reads: number[] = [];
  for (const app of [b, a, b]) reads.push((await timed(app, key)).status);
  expect(reads).toEqual([200, 200, 429]);
  // The owner's counter (another slot) holds 12 of its 17: the two exports and two reads, no refused request.
  const sibling = await a.keys.create({ name: 'sibling', subject, scopes: ['orders:read'] });
  const siblingReads: TimedAnswer[] = [];
  for (const app of [a, b, a, b, a, b]) siblingReads.push(await timed(app, sibling));
  expect(siblingReads.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 429]);
  expect(siblingReads[5].body).toMatchObject({ code: 'rate_limited', scope: 'owner' });
}

/**
 * A key's quota of 12 and an owner's quota of 8 (over two of its keys), spent by requests sent at once to A
 * and B: exactly that many are served, the rest refused with 429, never another answer.
 */
export async function expectSharedQuotas(a: RunningApp, b: RunningApp): Promise<void> {
  const served = async (keys: { key: string }[], count: number) => {
    const statuses = await Promise.all(
      Array.from(
        { length: count },
        async (_, i) => (await withKey(i % 2 ? b : a, keys[i % keys.length])).status,
      ),
    );
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    return statuses.filter((status) => status === 200).length;
  };
  const metered = await a.keys.create({ name: 'metered', scopes: ['orders:read'], remaining: 12 });
  expect(await served([metered], 30)).toBe(12);
  const subject = `owner-${randomUUID()}`;
  await a.app.get(SubjectLimitsService).setSubjectLimits(subject, { remaining: 8 });
  const owned = [
    await a.keys.create({ name: 'owned 1', subject, scopes: ['orders:read'] }),
    await a.keys.create({ name: 'owned 2', subject, scopes: ['orders:read'] }),
  ];
  expect(await served(owned, 20)).toBe(8);
}

/** A key revoked on A, and a token revoked on A, are refused by B (which had both cached) within the bound. */
export async function expectRevocationsSeenByB(a: RunningApp, b: RunningApp): Promise<void> {
  const key = await a.keys.create({ name: 'revoked on A', scopes: ['orders:read'] });
  await withKey(b, key).expect(200);
  const keyWatch = new StatusWatch(() => withKey(b, key), 401, 200, 20);
  await a.keys.revoke(key.id);
  const keyRevokedAt = Date.now();
  await keyWatch.stopAfter(5000);

  const holder = await a.keys.create({ name: 'token holder', scopes: ['orders:read'] });
  const token = await mintToken(a.url, holder);
  await withToken(b, token).expect(200);
  const tokenWatch = new StatusWatch(() => withToken(b, token), 401, 200, 20);
  await revokeToken(a, holder, token).expect(200);
  const tokenRevokedAt = Date.now();
  await tokenWatch.stopAfter(5000);

  console.log(
    `revoked on A, refused by B after: key ${keyWatch.delayFrom(keyRevokedAt)} ms, token ` +
      `${tokenWatch.delayFrom(tokenRevokedAt)} ms (bound ${BOUND_MS} ms)`,
  );
  for (const [watch, since] of [
    [keyWatch, keyRevokedAt],
    [tokenWatch, tokenRevokedAt],
  ] as const) {
    expect(watch.seenAt).toBeDefined();
    expect(watch.delayFrom(since)).toBeLessThan(BOUND_MS);
    expect(watch.unexpected).toEqual([]);
  }
  await withToken(a, token).expect(401);
  await withKey(a, key).expect(401);
}

/** A `private_key_jwt` assertion is accepted by A and refused as a replay by B. */
export async function expectAssertionOnce(a: RunningApp, b: RunningApp): Promise<void> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const key = await a.keys.create({
    name: 'agent',
    scopes: ['orders:read'],
    publicKey: publicKey.export({ format: 'jwk' }),
  });
  const sent = await assertion(key.id, privateKey);
  await withAssertion(a.url, sent).expect(200);
  expectOAuthError(await withAssertion(b.url, sent), 401, 'invalid_client', [sent]);
  expect(b.events.filter((e) => e.type === 'auth.failed').at(-1)).toMatchObject({
    reason: 'assertion_replayed',
    keyId: key.id,
  });
}

function assertion(keyId: string, privateKey: KeyObject): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: keyId, sub: keyId, aud: ISSUER, jti: randomUUID(), iat: now, exp: now + 60 })
    .setProtectedHeader({ alg: 'EdDSA' })
    .sign(privateKey as unknown as JoseKey);
}

function withAssertion(url: string, sent: string): request.Test {
  return request(url)
    .post(TOKEN_PATH)
    .type('form')
    .send(
      form({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: sent,
      }),
    );
}
