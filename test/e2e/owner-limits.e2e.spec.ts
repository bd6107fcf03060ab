import { SubjectLimitsService, type ApiKeyModuleOptions } from 'nestjs-keybridge';
import { databaseTargets, type DatabaseTarget } from './support/databases.js';
import { mintToken } from './support/oauth.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { startApp, type AdapterName, type RunningApp } from './support/app-starter.js';

const REDIS_URL = redisTarget();

type Mode = 'leases' | 'redis';
const MODES: Mode[] = REDIS_URL ? ['leases', 'redis'] : ['leases'];

interface Answer {
  status: number;
  body: { code?: string; scope?: string };
}

/** `GET /orders` with a key header or a bearer token. */
async function call(app: RunningApp, credential: { key: string } | { token: string }): Promise<Answer> {
  const headers: Record<string, string> =
    'key' in credential ? { 'X-API-Key': credential.key } : { Authorization: `Bearer ${credential.token}` };
  const res = await fetch(`${app.url}/orders`, { headers });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** `count` requests at once, spread over the apps and the keys in turn. */
function burst(apps: RunningApp[], keys: { key: string }[], count: number): Promise<Answer[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      call(apps[i % apps.length], keys[Math.floor(i / apps.length) % keys.length]),
    ),
  );
}

/** Requests to each app with each key, one at a time, until refused: spends units an instance still holds. */
async function drain(apps: RunningApp[], keys: { key: string }[]): Promise<number> {
  let served = 0;
  for (const app of apps) for (const key of keys) while ((await call(app, key)).status === 200) served++;
  return served;
}

const admitted = (answers: Answer[]) => answers.filter((answer) => answer.status === 200).length;

/** Every refusal a 429 of the owner's limit `code`. */
function expectOwnerRefusals(answers: Answer[], code: 'rate_limited' | 'quota_exhausted'): void {
  for (const answer of answers.filter((a) => a.status !== 200)) {
    expect(answer).toEqual({
      status: 429,
      body: expect.objectContaining({ statusCode: 429, code, scope: 'owner' }),
    });
  }
}

/**
 * Limits and quotas set on an owner (a key's `subject`): shared by all of its keys and the tokens minted from
 * them, across instances, and a refusal names the owner's limit (`scope: "owner"`).
 */
describe.each(
  databaseTargets().flatMap((target) =>
    MODES.map(
      (mode) => [`${target.name}, ${mode}`, target, mode, mode === 'redis' ? 'fastify' : 'express'] as const,
    ),
  ),
)('limits per owner (%s)', (_name, target: DatabaseTarget, mode: Mode, adapter: AdapterName) => {
  let databaseUrl: string;
  const running: RunningApp[] = [];
  let prefix = '';

  beforeAll(async () => {
    databaseUrl = await target.fresh();
  }, 60_000);

  afterEach(async () => {
    for (const app of running.splice(0)) await app.close();
    if (REDIS_URL && prefix) await clearRedisPrefix(REDIS_URL, prefix);
  });

  async function instances(count: number, options: ApiKeyModuleOptions = {}): Promise<RunningApp[]> {
    prefix = uniqueRedisPrefix();
    const apps: RunningApp[] = [];
    for (let i = 0; i < count; i++) {
      const app = await startApp(adapter, databaseUrl, {
        quotaSync: { lease: 10, flushInterval: '200ms' },
        ...(mode === 'redis' ? { redis: { connection: REDIS_URL!, keyPrefix: prefix } } : {}),
        ...options,
      });
      running.push(app);
      apps.push(app);
    }
    return apps;
  }

  const owners = (app: RunningApp) => app.app.get(SubjectLimitsService);

  async function keysOf(app: RunningApp, subject: string, count: number, extra: object = {}) {
    const keys = [];
    for (let i = 0; i < count; i++)
      keys.push(
        await app.keys.create({ name: `${subject} ${i}`, subject, scopes: ['orders:read'], ...extra }),
      );
    return keys;
  }

  it("shares the owner's quota between its keys and two instances: exactly the quota, never more", async () => {
    const [a, b] = await instances(2);
    const subject = `acme-${Date.now()}`;
    await owners(a).setSubjectLimits(subject, { remaining: 60 });
    const keys = await keysOf(a, subject, 3);
    const other = (await keysOf(a, `other-${Date.now()}`, 1))[0];

    const answers = await burst([a, b], keys, 150);
    expect(admitted(answers)).toBeLessThanOrEqual(60);
    expectOwnerRefusals(answers, 'quota_exhausted');
    expect(admitted(answers) + (await drain([a, b], keys))).toBe(60);
    expect((await owners(a).getSubjectLimits(subject)).remaining).toBe(0);
    // Another owner's key is untouched, and the event names the owner's quota.
    expect((await call(a, other)).status).toBe(200);
    expect(a.events.concat(b.events)).toContainEqual(
      expect.objectContaining({ type: 'auth.rate_limited', limit: 'quota', scope: 'owner' }),
    );
  });

  it("counts the owner's rate limit over all of its keys; its own limit is named as the key's", async () => {
    const apps = mode === 'redis' ? await instances(2) : await instances(1);
    const subject = `limited-${Date.now()}`;
    await owners(apps[0]).setSubjectLimits(subject, { rateLimit: { limit: 7, window: '1m' } });
    const keys = await keysOf(apps[0], subject, 2);
    const answers = await burst(apps, keys, 20);
    expect(admitted(answers)).toBe(7);
    expectOwnerRefusals(answers, 'rate_limited');

    const tight = (
      await keysOf(apps[0], `tight-${Date.now()}`, 1, { rateLimit: { limit: 1, window: '1m' } })
    )[0];
    await owners(apps[0]).setSubjectLimits(tight.subject, { rateLimit: { limit: 100, window: '1m' } });
    expect((await call(apps[0], tight)).status).toBe(200);
    expect(await call(apps[0], tight)).toEqual({
      status: 429,
      body: expect.objectContaining({ code: 'rate_limited', scope: 'key' }),
    });
  });

  it("spends the owner's quota from the tokens minted from its keys", async () => {
    const [app] = await instances(1, { quotaSync: { lease: 1 } });
    const subject = `tokens-${Date.now()}`;
    await owners(app).setSubjectLimits(subject, { quotaRefill: { amount: 5, interval: '1h' } });
    const [first, second] = await keysOf(app, subject, 2);
    const token = await mintToken(app.url, first); // 1
    expect((await call(app, { token })).status).toBe(200); // 2
    expect((await call(app, second)).status).toBe(200); // 3
    expect((await call(app, { token })).status).toBe(200); // 4
    expect((await call(app, second)).status).toBe(200); // 5
    const refused = await call(app, { token });
    expect(refused).toEqual({
      status: 429,
      body: expect.objectContaining({ code: 'quota_exhausted', scope: 'owner' }),
    });
    app.clock.now += 3_600_000 + 1000; // the refill
    expect((await call(app, { key: second.key })).status).toBe(200);
    expect((await owners(app).getSubjectLimits(subject)).remaining).toBe(4);
  });

  it('reads, changes and removes an owner’s limits; a change on one instance applies on the other', async () => {
    const [a, b] = await instances(2);
    const subject = `changing-${Date.now()}`;
    expect(await owners(a).getSubjectLimits(subject)).toEqual({
      subject,
      rateLimit: null,
      remaining: null,
      quotaRefill: null,
      updatedAt: null,
    });
    const [key] = await keysOf(a, subject, 1);
    expect((await call(b, key)).status).toBe(200); // B caches "no limits"
    await owners(a).setSubjectLimits(subject, { remaining: 0 });
    await expect(owners(a).getSubjectLimits(subject)).resolves.toMatchObject({ remaining: 0 });
    // Redis: the change reaches B at once through the key-change feed; without it, within the cache ttl.
    const ttlPassed = () => (b.clock.now += mode === 'leases' ? 5001 : 0);
    ttlPassed();
    await waitFor(async () => (await call(b, key)).status === 429);
    await owners(a).setSubjectLimits(subject, { remaining: null, rateLimit: null });
    ttlPassed();
    await waitFor(async () => (await call(b, key)).status === 200);
    await expect(owners(a).setSubjectLimits(subject, { remaining: -1 })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });
});

async function waitFor(done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(await done()).toBe(true);
}
