import { Redis } from 'ioredis';
import { RedisServer, stopAll, until } from './redis-server.js';

export const SENTINEL_MASTER_NAME = 'keybridge-test';

/**
 * One master, one replica and three sentinels watching them (quorum 2), ready once every sentinel knows the
 * replica and the other sentinels, so that `failover()` can promote the replica at once.
 */
export class RedisSentinelFixture {
  private constructor(
    readonly master: RedisServer,
    readonly replica: RedisServer,
    readonly sentinels: RedisServer[],
  ) {}

  static async start(
    masterPort = 17010,
    replicaPort = 17011,
    sentinelPorts: readonly number[] = [17020, 17021, 17022],
  ): Promise<RedisSentinelFixture> {
    const started: RedisServer[] = [];
    try {
      const master = await RedisServer.start(masterPort);
      started.push(master);
      const replica = await RedisServer.start(replicaPort, [`replicaof 127.0.0.1 ${masterPort}`]);
      started.push(replica);
      await until('replica in sync', () =>
        replica.with(async (redis) => (await redis.info('replication')).includes('master_link_status:up')),
      );
      const sentinels: RedisServer[] = [];
      for (const port of sentinelPorts) {
        const sentinel = await RedisServer.start(
          port,
          [
            `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
            `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
            `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
          ],
          true,
        );
        started.push(sentinel);
        sentinels.push(sentinel);
      }
      const fixture = new RedisSentinelFixture(master, replica, sentinels);
      await fixture.settled(masterPort);
      return fixture;
    } catch (error) {
      await stopAll(started);
      throw error;
    }
  }

  /** The sentinels, as ioredis's `sentinels` option takes them. */
  get addresses(): { host: string; port: number }[] {
    return this.sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port }));
  }

  /** The port of the master the sentinels name now. */
  async masterPort(): Promise<number> {
    return this.sentinels[0].with(async (redis) => {
      const [, port] = (await redis.call(
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        SENTINEL_MASTER_NAME,
      )) as string[];
      return Number(port);
    });
  }

  /**
   * Makes the sentinels promote the replica (`SENTINEL FAILOVER`) and waits until every sentinel names the new
   * master, the new master accepts writes, and the old one follows it.
   */
  async failover(): Promise<number> {
    const before = await this.masterPort();
    await this.sentinels[0].with((redis) => redis.call('SENTINEL', 'FAILOVER', SENTINEL_MASTER_NAME));
    for (const sentinel of this.sentinels) {
      await until('sentinels agree on the new master', async () =>
        sentinel.with(async (redis) => {
          const [, port] = (await redis.call(
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            SENTINEL_MASTER_NAME,
          )) as string[];
          return Number(port) !== before;
        }),
      );
    }
    const after = await this.masterPort();
    await this.settled(after);
    return after;
  }

  /** Waits until `masterPort` is a writable master with a replica in sync that every sentinel knows of. */
  private async settled(masterPort: number): Promise<void> {
    const master = [this.master, this.replica].find((server) => server.port === masterPort)!;
    const replica = [this.master, this.replica].find((server) => server.port !== masterPort)!;
    await until('master with its replica in sync', () =>
      master.with(async (redis) => {
        const info = await redis.info('replication');
        return info.includes('role:master') && /slave0:.*state=online/.test(info);
      }),
    );
    await until('replica linked', () =>
      replica.with(async (redis) => (await redis.info('replication')).includes('master_link_status:up')),
    );
    for (const sentinel of this.sentinels) {
      await until('sentinel knows the replica and its peers', () =>
        sentinel.with(async (redis) => {
          const replicas = (await redis.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME)) as string[][];
          const peers = (await redis.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER_NAME)) as string[][];
          const replicaUp = replicas.some((fields) => {
            const flags = fields[fields.indexOf('flags') + 1];
            return fields[fields.indexOf('port') + 1] === String(replica.port) && flags === 'slave';
          });
          return replicaUp && peers.length === this.sentinels.length - 1;
        }),
      );
    }
  }

  /** A client of the current master, found through the sentinels (a test's, not the module's). */
  masterClient(): Redis {
    return new Redis({
      sentinels: this.addresses,
      name: SENTINEL_MASTER_NAME,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
  }

  stop(): Promise<void> {
    return stopAll([...this.sentinels, this.replica, this.master]);
  }
}
