import { spawnSync } from 'node:child_process';
import { RedisServer, stopAll, until } from './redis-server.js';

/**
 * A Redis Cluster of three masters (no replicas) on `ports`, made with `redis-cli --cluster create` and
 * ready once every node reports `cluster_state:ok`.
 */
export class RedisClusterFixture {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(ports: readonly number[] = [17001, 17002, 17003]): Promise<RedisClusterFixture> {
    const nodes: RedisServer[] = [];
    try {
      for (const port of ports) {
        nodes.push(
          await RedisServer.start(port, [
            'cluster-enabled yes',
            `cluster-config-file nodes-${port}.conf`,
            'cluster-node-timeout 2000',
          ]),
        );
      }
      const created = spawnSync(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((port) => `127.0.0.1:${port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      if (created.status !== 0)
        throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
      for (const node of nodes) {
        await until(`cluster node ${node.port}`, () =>
          node.with(async (redis) => (await redis.cluster('INFO')).includes('cluster_state:ok')),
        );
      }
      return new RedisClusterFixture(nodes);
    } catch (error) {
      await stopAll(nodes);
      throw error;
    }
  }

  /** The seed nodes, as the `clusterNodes` option takes them. */
  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  }

  stop(): Promise<void> {
    return stopAll(this.nodes);
  }
}
