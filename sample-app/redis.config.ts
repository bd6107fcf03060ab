import type { KeybridgeRedisOptions } from 'nestjs-keybridge';

/**
 * The module's Redis from the environment: `REDIS_CLUSTER_NODES=host:port,…` (a Redis Cluster),
 * `REDIS_SENTINELS=host:port,…` with `REDIS_SENTINEL_NAME` (a master found through Sentinel), or `REDIS_URL`
 * (one server); none of them, no Redis.
 */
export function redisFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): KeybridgeRedisOptions['connection'] | undefined {
  if (env.REDIS_CLUSTER_NODES)
    return { clusterNodes: addresses('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES) };
  if (env.REDIS_SENTINELS) {
    const name = env.REDIS_SENTINEL_NAME;
    if (!name)
      throw new Error('REDIS_SENTINELS needs REDIS_SENTINEL_NAME, the name of the master to follow.');
    return { sentinels: addresses('REDIS_SENTINELS', env.REDIS_SENTINELS), name };
  }
  return env.REDIS_URL || undefined;
}

/** `host:port,host:port`, each port required. */
function addresses(variable: string, list: string): { host: string; port: number }[] {
  return list.split(',').map((entry) => {
    const match = /^\s*(\[[^\]]+\]|[^\s:]+):(\d{1,5})\s*$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new Error(
        `${variable} must be host:port pairs separated by commas; got ${JSON.stringify(entry)}.`,
      );
    }
    return { host: match[1].replace(/^\[|\]$/g, ''), port };
  });
}
