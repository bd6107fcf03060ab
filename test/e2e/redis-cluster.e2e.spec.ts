import { Cluster } from 'ioredis';
import type { KeybridgeRedisOptions } from 'nestjs-keybridge';
import type { RunningApp } from './support/app-starter.js';
import { sqlite } from './support/databases.js';
import { withToken } from './support/guarded.requests.js';
import { mintToken } from './support/oauth.js';
import { RedisClusterFixture } from './support/redis-cluster.js';
import { NO_REDIS_SERVER, redisServerBinary, until } from './support/redis-server.js';
import {
  expectAssertionOnce,
  expectLeasedBound,
  expectNamedLimitsWithCost,
  expectRevocationsSeenByB,
  expectSharedQuotas,
  expectSharedRateLimit,
  expectSharedSmoothLimit,
  twoInstances,
} from './support/redis-topology.checks.js';
import { StatusWatch } from './support/status-watch.js';
import { uniqueRedisPrefix } from './support/redis.js';

const RUN = redisServerBinary() !== undefined;
if (!RUN) console.warn(NO_REDIS_SERVER);

/**
 * Two instances on a real Redis Cluster of three masters started by the suite: A opens the cluster from its
 * seed nodes, B is handed an ioredis `Cluster` client. Limits, revocations, the replay cache and the denylist
 * work across them as on one Redis, and they recover when a node dies and comes back.
 */
(RUN ? describe : describe.skip)('two instances on a Redis Cluster', () => {
  let cluster: RedisClusterFixture;
  let client: Cluster;
  let a: RunningApp;
  let b: RunningApp;
  let databaseUrl: string;
  let options: KeybridgeRedisOptions;
  const prefix = uniqueRedisPrefix();

  beforeAll(async () => {
    cluster = await RedisClusterFixture.start();
    client = new Cluster(cluster.seeds, { lazyConnect: true, enableOfflineQueue: false });
    await client.connect();
    databaseUrl = await sqlite.fresh();
    options = { connection: { clusterNodes: cluster.seeds }, keyPrefix: prefix };
    [a, b] = await twoInstances(databaseUrl, options, { connection: client, keyPrefix: prefix });
  }, 60_000);

  afterAll(async () => {
    await StatusWatch.stopAll();
    await a?.close();
    await b?.close();
    client?.disconnect();
    await cluster?.stop();
  });

  it('counts one rate limit across both instances', async () => {
    await expectSharedRateLimit(a, b);
  });

  it('counts named limits and an @Cost(5) route in one check per counter, each in its own slot', async () => {
    await expectNamedLimitsWithCost(a, b);
  });

  it('spaces requests under the smooth policy across both instances', async () => {
    await expectSharedSmoothLimit(a, b);
  });

  it('admits at most limit + 2 × lease in any window in the leased mode', async () => {
    const LEASE = 5;
    const [c, d] = await twoInstances(
      databaseUrl,
      options,
      { connection: client, keyPrefix: prefix },
      {
        rateLimitMode: 'leased',
        rateLimitLease: LEASE,
      },
    );
    try {
      await expectLeasedBound(c, d, LEASE);
    } finally {
      await c.close();
      await d.close();
    }
  }, 30_000);

  it("spends a key's quota and an owner's quota exactly once across both instances", async () => {
    await expectSharedQuotas(a, b);
  });

  it('has B refuse a key and a token revoked on A within the bound', async () => {
    await expectRevocationsSeenByB(a, b);
  });

  it('accepts a client assertion once across both instances', async () => {
    await expectAssertionOnce(a, b);
  });

  it('keeps the denylist in the cluster, where a restarted instance finds it', async () => {
    const holder = await a.keys.create({ name: 'denylisted', scopes: ['orders:read'] });
    const token = await mintToken(a.url, holder);
    await a.keys.revoke(holder.id);
    const entries = await client.zrange(`${prefix}denylist`, 0, -1);
    expect(entries).toContain(`key:${holder.id}`);
    await withToken(b, token).expect(401);
  });

  it('recovers without a restart when a node dies and comes back', async () => {
    const holder = await a.keys.create({ name: 'after the outage', scopes: ['orders:read'] });
    const token = await mintToken(a.url, holder);
    await withToken(b, token).expect(200);
    // Every node in turn: whichever one a subscription listens on, it has to find another.
    for (const node of cluster.nodes) {
      await node.kill();
      await node.run();
      await until('cluster healthy again', async () =>
        node.with(async (redis) => (await redis.cluster('INFO')).includes('cluster_state:ok')),
      );
    }
    await until('both instances serve bearer tokens again', async () => {
      const answers = await Promise.all([withToken(a, token), withToken(b, token)]);
      return answers.every((res) => res.status === 200);
    });
    await until('B hears of a revocation on A again', async () => {
      const revoked = await a.keys.create({ name: 'probe', scopes: ['orders:read'] });
      const probe = await mintToken(a.url, revoked);
      await withToken(b, probe).expect(200);
      await a.keys.revoke(revoked.id);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return (await withToken(b, probe)).status === 401;
    });
    await expectRevocationsSeenByB(a, b);
  });
});
