import { setTimeout as sleep } from 'node:timers/promises';
import { ApiKeyEntity, SubjectLimitsService, type ApiKeyModuleOptions } from 'nestjs-keybridge';
import { DataSource } from 'typeorm';
import { databaseTargets, sqlite, type DatabaseTarget } from './support/databases.js';
import { until } from './support/outage.js';
import { TcpProxy, throughProxy } from './support/tcp-proxy.js';
import { clearRedisPrefix, redisTarget, uniqueRedisPrefix } from './support/redis.js';
import { startApp, type RunningApp } from './support/app-starter.js';

const REDIS_URL = redisTarget();

/** `leases`: no Redis; `redis`: the Redis counter; `redis-leased`: Redis set, `quotaSync.mode: 'leased'`. */
type Mode = 'leases' | 'redis' | 'redis-leased';
const MODES: Mode[] = REDIS_URL ? ['leases', 'redis', 'redis-leased'] : ['leases'];

/** The Redis option of a mode, under `prefix`. */
function modeOptions(mode: Mode, prefix: string): ApiKeyModuleOptions {
  return mode === 'leases' ? {} : { redis: { connection: REDIS_URL!, keyPrefix: prefix } };
}

/** The quotaSync of a mode with `lease` and `flushInterval`. */
function quotaSync(mode: Mode, lease: number, flushInterval: string): ApiKeyModuleOptions['quotaSync'] {
  return { lease, flushInterval, ...(mode === 'redis-leased' ? { mode: 'leased' as const } : {}) };
}

/** Sends `count` requests with the key at once, spread over the apps in turn; the statuses in order. */
async function burst(apps: RunningApp[], key: string, count: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await fetch(`${apps[i % apps.length].url}/orders`, { headers: { 'X-API-Key': key } });
      const body = (await res.json()) as { code?: string };
      if (res.status === 429) expect(body.code).toBe('quota_exhausted');
      return res.status;
    }),
  );
}

const admitted = (statuses: number[]) => statuses.filter((status) => status === 200).length;

/**
 * Sends requests to each app in turn, one at a time, until it refuses: units an instance reserved from the
 * row (leases) are spent by its own requests, so the total admitted is exact once every holder is drained.
 */
async function drain(apps: RunningApp[], key: string): Promise<number> {
  let served = 0;
  for (const app of apps) {
    for (;;) {
      const res = await fetch(`${app.url}/orders`, { headers: { 'X-API-Key': key } });
      await res.arrayBuffer();
      if (res.status !== 200) break;
      served++;
    }
  }
  return served;
}

/** Statuses other than a 200 or a 429: none may appear (a 503 or 500 would be a lost answer). */
const unexpected = (statuses: number[]) => statuses.filter((status) => status !== 200 && status !== 429);

/** The `remaining` column of a key as stored, read through the app's own data source. */
async function storedRemaining(app: RunningApp, id: string): Promise<number | null> {
  const row = await app.app.get(DataSource).getRepository(ApiKeyEntity).findOneBy({ id });
  return row!.remaining;
}

/**
 * Quotas counted without a database write per request: in Redis, or in memory from leases reserved in the
 * key row (without Redis, or with Redis and `quotaSync.mode: 'leased'`). Instances on one database (and one
 * Redis) admit exactly the quota under concurrency, never more, across restarts and an instance that dies
 * with units it had counted.
 */
describe.each(
  databaseTargets().flatMap((target) =>
    MODES.map((mode) => [`${target.name}, ${mode}`, target, mode] as const),
  ),
)('quotas counted in batches (%s)', (_name, target: DatabaseTarget, mode: Mode) => {
  let databaseUrl: string;
  const running: RunningApp[] = [];
  const prefixes: string[] = [];
  let prefix = '';

  beforeAll(async () => {
    databaseUrl = await target.fresh();
  }, 60_000);

  beforeEach(() => {
    prefix = uniqueRedisPrefix();
    prefixes.push(prefix);
  });

  afterEach(async () => {
    for (const app of running.splice(0)) await app.close();
    if (REDIS_URL) for (const used of prefixes.splice(0)) await clearRedisPrefix(REDIS_URL, used);
  });

  /** An instance in this suite's mode: `lease` units reserved at a time, or Redis under the test's prefix. */
  async function instance({
    lease = 20,
    flushInterval = '200ms',
  }: { lease?: number; flushInterval?: string } = {}): Promise<RunningApp> {
    const app = await startApp('express', databaseUrl, {
      ...modeOptions(mode, prefix),
      quotaSync: quotaSync(mode, lease, flushInterval),
    });
    running.push(app);
    return app;
  }

  it('admits exactly the quota across two instances under concurrency, never more', async () => {
    const a = await instance();
    const b = await instance();
    const key = await a.keys.create({ name: 'metered', scopes: ['orders:read'], remaining: 150 });

    const statuses = await burst([a, b], key.key, 260);
    expect(unexpected(statuses)).toEqual([]);
    expect(admitted(statuses)).toBeLessThanOrEqual(150);
    expect(admitted(statuses) + (await drain([a, b], key.key))).toBe(150);
    expect((await a.keys.get(key.id)).remaining).toBe(0);
    expect(admitted(await burst([a, b], key.key, 20))).toBe(0);
  });

  it('keeps the count across a restart, and after Redis is lost: the row is written back on shutdown', async () => {
    const first = await instance();
    const key = await first.keys.create({ name: 'restarted', scopes: ['orders:read'], remaining: 100 });
    expect(admitted(await burst([first], key.key, 30))).toBe(30);
    running.splice(running.indexOf(first), 1);
    await first.close();
    // Redis loses everything: the next instance starts its counter again from the row.
    if (mode !== 'leases') await clearRedisPrefix(REDIS_URL!, prefix);

    const second = await instance();
    expect(await storedRemaining(second, key.id)).toBe(70);
    const statuses = await burst([second], key.key, 120);
    expect(unexpected(statuses)).toEqual([]);
    expect(admitted(statuses)).toBe(70);
  });

  it('an instance that dies keeps what it counted: never overspent', async () => {
    // The first instance never writes back by itself (a long interval), then loses its database and is closed:
    // nothing it counted reaches the row through it, as when its process is killed.
    const dying = await instance({ lease: 40, flushInterval: '1h' });
    const key = await dying.keys.create({ name: 'survivor', scopes: ['orders:read'], remaining: 200 });
    expect(admitted(await burst([dying], key.key, 10))).toBe(10);
    await dying.app.get(DataSource).destroy();
    running.splice(running.indexOf(dying), 1);
    await dying.close();

    const survivor = await instance();
    const statuses = await burst([survivor], key.key, 220);
    expect(unexpected(statuses)).toEqual([]);
    if (mode === 'redis') {
      // The 10 units are still in Redis: the survivor admits the other 190 and writes all 200 back.
      expect(admitted(statuses)).toBe(190);
    } else {
      // The dead instance's block of 40 is lost to the customer: 10 used, 30 never returned (Redis set or not).
      expect(admitted(statuses)).toBe(160);
    }
    await waitFor(async () => (await storedRemaining(survivor, key.id)) === 0);
  });

  it('refills every interval, once across instances, and counts the new quota exactly', async () => {
    const a = await instance();
    const b = await instance();
    const key = await a.keys.create({
      name: 'monthly',
      scopes: ['orders:read'],
      quotaRefill: { amount: 30, interval: '1h' },
    });
    const first = await burst([a, b], key.key, 50);
    expect(admitted(first) + (await drain([a, b], key.key))).toBe(30);
    for (const app of [a, b]) app.clock.now += 3_600_000 + 1000;
    const statuses = await burst([a, b], key.key, 50);
    expect(unexpected(statuses)).toEqual([]);
    expect(admitted(statuses)).toBeLessThanOrEqual(30);
    expect(admitted(statuses) + (await drain([a, b], key.key))).toBe(30);
    expect((await a.keys.get(key.id)).remaining).toBe(0);
  });

  it('starts again from a top-up', async () => {
    const a = await instance();
    const key = await a.keys.create({ name: 'topped', scopes: ['orders:read'], remaining: 5 });
    expect(admitted(await burst([a], key.key, 8))).toBe(5);
    await a.keys.update(key.id, { remaining: 25 });
    expect((await a.keys.get(key.id)).remaining).toBe(25);
    expect(admitted(await burst([a], key.key, 40))).toBe(25);
  });

  // Without Redis, another instance sees a top-up within the cache ttl; with it, through the key-change feed:
  // these two cases are defined only in the Redis modes.
  const withFeed = (name: string, test: () => Promise<void>): void => {
    if (mode !== 'leases') it(name, test);
  };
  withFeed(
    "counts a top-up made on another instance exactly, though this one still held the old quota's units",
    async () => {
      const a = await instance();
      const b = await instance();
      const key = await a.keys.create({ name: 'shared top-up', scopes: ['orders:read'], remaining: 100 });
      expect(admitted(await burst([b], key.key, 5))).toBe(5); // leases: b holds 15 units of the old quota
      await a.keys.update(key.id, { remaining: 30 });
      await sleep(500); // the change reaches b through Redis
      const statuses = await burst([a, b], key.key, 60);
      expect(unexpected(statuses)).toEqual([]);
      expect(admitted(statuses)).toBeLessThanOrEqual(30);
      expect(admitted(statuses) + (await drain([a, b], key.key))).toBe(30);
      expect((await b.keys.get(key.id)).remaining).toBe(0);
    },
  );

  withFeed(
    "counts an owner's quota over two keys and instances exactly, and its top-up made on the other instance",
    async () => {
      const a = await instance();
      const b = await instance();
      const subject = `owner-${Date.now()}`;
      const owners = (app: RunningApp) => app.app.get(SubjectLimitsService);
      await owners(a).setSubjectLimits(subject, { remaining: 50 });
      const keys = [
        await a.keys.create({ name: 'first', subject, scopes: ['orders:read'] }),
        await a.keys.create({ name: 'second', subject, scopes: ['orders:read'] }),
      ];
      const first = (await burst([a, b], keys[0].key, 40)).concat(await burst([b, a], keys[1].key, 40));
      expect(unexpected(first)).toEqual([]);
      expect(admitted(first)).toBeLessThanOrEqual(50);
      expect(admitted(first) + (await drain([a, b], keys[0].key)) + (await drain([b, a], keys[1].key))).toBe(
        50,
      );

      await owners(b).setSubjectLimits(subject, { remaining: 20 });
      await sleep(500); // the change reaches a through Redis
      const second = await burst([a, b], keys[0].key, 40);
      expect(unexpected(second)).toEqual([]);
      expect(admitted(second) + (await drain([a, b], keys[1].key)) + (await drain([b, a], keys[0].key))).toBe(
        20,
      );
      expect((await owners(a).getSubjectLimits(subject)).remaining).toBe(0);
    },
  );
});

/**
 * Quotas while Redis is cut (through a TCP proxy): `fail-closed` refuses with 503 and spends nothing;
 * `local` counts from database leases, and once Redis is back the key's Redis count is set from the row, so
 * the quota still holds exactly.
 */
(REDIS_URL ? describe : describe.skip)('quotas while Redis is unreachable (sqlite)', () => {
  let proxy: TcpProxy;
  const running: RunningApp[] = [];
  const prefix = uniqueRedisPrefix();

  beforeAll(async () => {
    proxy = await TcpProxy.startFor(REDIS_URL!);
  });
  afterEach(async () => {
    await proxy.restore();
    for (const app of running.splice(0)) await app.close();
  });
  afterAll(async () => {
    await proxy.stop();
    await clearRedisPrefix(REDIS_URL!, prefix);
  });

  async function instance(onOutage: 'fail-closed' | 'local'): Promise<RunningApp> {
    const app = await startApp('express', await sqlite.fresh(), {
      redis: { connection: throughProxy(REDIS_URL!, proxy.port), keyPrefix: prefix, onOutage },
      storeTimeout: '1s',
      quotaSync: { lease: 5, flushInterval: '200ms' },
    });
    running.push(app);
    return app;
  }

  it('fail-closed: answers 503 and spends nothing while Redis is cut', async () => {
    const app = await instance('fail-closed');
    const key = await app.keys.create({ name: 'closed', scopes: ['orders:read'], remaining: 10 });
    expect(admitted(await burst([app], key.key, 4))).toBe(4);
    await proxy.cut();
    const refused = await until(
      () => fetch(`${app.url}/orders`, { headers: { 'X-API-Key': key.key } }),
      503,
      5000,
    );
    expect(refused.last.status).toBe(503);
    expect(refused.seen.every((status) => status === 200 || status === 503)).toBe(true);
    const servedBeforeNoticed = refused.seen.filter((status) => status === 200).length;
    await proxy.restore();
    const rest = await until(
      () => fetch(`${app.url}/orders`, { headers: { 'X-API-Key': key.key } }),
      200,
      10_000,
    );
    const after = rest.seen.filter((status) => status === 200).length;
    expect(4 + servedBeforeNoticed + after + (await drain([app], key.key))).toBe(10);
  }, 30_000);

  it('local: keeps serving from database leases, and the quota holds exactly once Redis is back', async () => {
    const app = await instance('local');
    const key = await app.keys.create({ name: 'local', scopes: ['orders:read'], remaining: 40 });
    expect(admitted(await burst([app], key.key, 10))).toBe(10);
    // Written back (every 200 ms) before the cut: units still only in Redis would be counted again (README).
    await sleep(600);
    await proxy.cut();
    let served = 10;
    for (let i = 0; i < 12; i++) {
      const status = (await burst([app], key.key, 1))[0];
      expect(status).toBe(200);
      served++;
    }
    await proxy.restore();
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the connection is made again
    const statuses = await burst([app], key.key, 40);
    expect(unexpected(statuses)).toEqual([]);
    expect(served + admitted(statuses) + (await drain([app], key.key))).toBe(40);
  }, 30_000);
});

/**
 * The writes a busy quota costs the key table, as PostgreSQL counts them (`pg_stat_user_tables.n_tup_upd`):
 * a few per second or per lease, against hundreds of requests.
 */
const POSTGRES = databaseTargets().find((target) => target.name === 'postgres');
(POSTGRES ? describe.each : describe.skip.each)(MODES.map((mode) => [mode] as const))(
  'quota writes on PostgreSQL (%s)',
  (mode) => {
    const REQUESTS = 600;

    it(`updates the key row far fewer times than the ${REQUESTS} requests it serves`, async () => {
      const databaseUrl = await POSTGRES!.fresh(); // a new table: its statistics start at zero
      const prefix = uniqueRedisPrefix();
      const options: ApiKeyModuleOptions = {
        ...modeOptions(mode, prefix),
        quotaSync: quotaSync(mode, 100, '1s'),
      };
      const apps = [
        await startApp('express', databaseUrl, options),
        await startApp('express', databaseUrl, options),
      ];
      const stats = new DataSource({ type: 'postgres', url: databaseUrl });
      try {
        const key = await apps[0].keys.create({ name: 'busy', scopes: ['orders:read'], remaining: 10_000 });
        let served = 0;
        for (let round = 0; round < REQUESTS / 100; round++)
          served += admitted(await burst(apps, key.key, 100));
        expect(served).toBe(REQUESTS);
        for (const app of apps.splice(0)) await app.close(); // write back, give back leases, report statistics
        await stats.initialize();
        const updates = async () => {
          await stats.query('SELECT pg_stat_clear_snapshot()');
          const [row] = (await stats.query(
            "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'keybridge_api_keys'",
          )) as { n_tup_upd: string }[];
          return Number(row.n_tup_upd);
        };
        // Closed connections report their counts as they end: wait until the figure stops moving.
        let last = -1;
        for (let i = 0; i < 40 && (await updates()) !== last; i++) {
          last = await updates();
          await sleep(250);
        }
        const written = await updates();
        // Leases: 6 blocks of 100 at most, plus the blocks given back; Redis: one per key per second and
        // instance, plus shutdown. Usage counts add one write per flush either way.
        expect(written).toBeGreaterThan(0);
        expect(written).toBeLessThanOrEqual(40);
        const [row] = (await stats.query('SELECT remaining FROM keybridge_api_keys WHERE id = $1', [
          key.id,
        ])) as {
          remaining: number;
        }[];
        expect(Number(row.remaining)).toBe(10_000 - REQUESTS);
      } finally {
        for (const app of apps) await app.close();
        if (stats.isInitialized) await stats.destroy();
        if (REDIS_URL) await clearRedisPrefix(REDIS_URL, prefix);
      }
    }, 60_000);
  },
);

/** Polls `done` every 50 ms for up to 5 s. */
async function waitFor(done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await done()) return;
    await sleep(50);
  }
  expect(await done()).toBe(true);
}
