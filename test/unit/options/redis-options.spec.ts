import { describe, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { RedisConnection } from '../../../lib/redis/redis.connection.js';
import { resolveOptions } from '../../../lib/options/options.resolver.js';
import type { ApiKeyModuleOptions } from '../../../lib/interfaces/api-key-options.interface.js';
import { InvalidOptionsError } from '../../../lib/errors/index.js';

const DEV: NodeJS.ProcessEnv = { NODE_ENV: 'development' };
const URL = 'redis://redis.internal:6379/2';

/** The problems `resolveOptions` reports, or a failure when it accepts the options. */
function problems(options: ApiKeyModuleOptions): string {
  try {
    resolveOptions(options, DEV);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return (error as InvalidOptionsError).message;
  }
  throw new Error(`resolveOptions accepted ${JSON.stringify(options)}`);
}

/** Options as a caller who skips the types would pass them. */
const untyped = (options: Record<string, unknown>) => options as ApiKeyModuleOptions;

describe('the redis option', () => {
  it('is off by default: no Redis, and revocations in the database', () => {
    const resolved = resolveOptions({}, DEV);
    expect(resolved.redis).toBeUndefined();
    expect(resolved.denylist).toEqual({ kind: 'database', pollMs: 1000 });
  });

  it('takes a redis:// URL, with the default prefix and fail-closed outages', () => {
    expect(resolveOptions({ redis: URL }, DEV).redis).toEqual({
      connection: URL,
      keyPrefix: 'keybridge:',
      onOutage: 'fail-closed',
    });
    expect(resolveOptions({ redis: 'rediss://cache.example:6380' }, DEV).redis?.connection).toBe(
      'rediss://cache.example:6380',
    );
  });

  it('takes { connection, keyPrefix, onOutage } and keeps each', () => {
    expect(
      resolveOptions({ redis: { connection: URL, keyPrefix: 'app1:', onOutage: 'local' } }, DEV).redis,
    ).toEqual({ connection: URL, keyPrefix: 'app1:', onOutage: 'local' });
  });

  it('takes ioredis options or an ioredis client as the connection, untouched', () => {
    const options = { host: '10.0.0.5', port: 6380, db: 3 };
    expect(resolveOptions({ redis: { connection: options } }, DEV).redis?.connection).toBe(options);
    const client = new Redis({ lazyConnect: true });
    try {
      expect(resolveOptions({ redis: { connection: client } }, DEV).redis?.connection).toBe(client);
    } finally {
      client.disconnect();
    }
  });

  it('takes a Cluster: an ioredis Cluster client, or seed nodes with Cluster options', () => {
    const cluster = new Cluster([{ host: '10.0.0.5', port: 7000 }], { lazyConnect: true });
    try {
      expect(resolveOptions({ redis: { connection: cluster } }, DEV).redis?.connection).toBe(cluster);
    } finally {
      cluster.disconnect();
    }
    const seeds = { clusterNodes: ['10.0.0.5:7000', { host: '10.0.0.6', port: 7000 }], clusterOptions: {} };
    expect(resolveOptions({ redis: { connection: seeds } }, DEV).redis?.connection).toBe(seeds);
    expect(problems(untyped({ redis: { connection: { clusterNodes: [] } } }))).toMatch(/clusterNodes/);
  });

  it('takes Sentinel options, and waits for one replica on token revocations with them by default', () => {
    const sentinel = { sentinels: [{ host: '10.0.0.7', port: 26379 }], name: 'main' };
    const resolved = resolveOptions({ redis: { connection: sentinel } }, DEV).redis!;
    expect(resolved.connection).toBe(sentinel);
    const connections = [
      new RedisConnection(resolved, 1000),
      new RedisConnection({ ...resolved, connection: URL }, 1000),
    ];
    try {
      expect(connections.map((connection) => connection.revocationReplicas)).toEqual([1, 0]);
    } finally {
      for (const connection of connections) connection.onApplicationShutdown();
    }
  });

  it.each([-1, 1.5, 11, '1'])('refuses revocationReplicas %j', (revocationReplicas) => {
    expect(problems(untyped({ redis: { connection: URL, revocationReplicas } }))).toMatch(
      /redis\.revocationReplicas must be an integer from 0 to 10/,
    );
  });

  it('refuses revocationReplicas on a Cluster, where WAIT cannot follow the write', () => {
    const connection = { clusterNodes: ['10.0.0.5:7000'] };
    expect(problems({ redis: { connection, revocationReplicas: 1 } })).toMatch(/not supported on a Cluster/);
    expect(
      resolveOptions({ redis: { connection, revocationReplicas: 0 } }, DEV).redis?.revocationReplicas,
    ).toBe(0);
  });

  it('refuses a client of another copy of ioredis, which would be read as options', () => {
    // Read as options, it would quietly connect to localhost:6379 instead.
    class Cluster {
      duplicate() {
        return this;
      }
      status = 'wait';
    }
    const message = problems({ redis: { connection: new Cluster() as never } });
    expect(message).toMatch(/made with this app's ioredis/);
    expect(problems(untyped({ denylist: { redis: new Cluster() } }))).toMatch(/denylist\.redis must be/);
  });

  it.each([
    ['an empty string', ''],
    ['a URL of another scheme', 'http://redis.internal:6379'],
    ['a bare host', 'redis.internal:6379'],
    ['a scheme without a host', 'redis://'],
    ['a number', 6379],
    ['null', null],
    ['an object without a connection', { keyPrefix: 'app:' }],
    ['an empty connection', { connection: '' }],
  ])('refuses %s, saying what it takes', (_label, redis) => {
    const message = problems(untyped({ redis }));
    expect(message).toMatch(/redis must be a redis:\/\/ URL/);
  });

  it.each([
    ['a number', 42],
    ['a prefix over 100 characters', 'p'.repeat(101)],
  ])('refuses a keyPrefix that is %s', (_label, keyPrefix) => {
    expect(problems(untyped({ redis: { connection: URL, keyPrefix } }))).toMatch(
      /redis\.keyPrefix must be a string of at most 100 characters/,
    );
  });

  it('accepts a keyPrefix of exactly 100 characters', () => {
    const keyPrefix = 'p'.repeat(100);
    expect(resolveOptions({ redis: { connection: URL, keyPrefix } }, DEV).redis?.keyPrefix).toBe(keyPrefix);
  });

  it.each(['open', 'fail-open', 'LOCAL', ''])('refuses onOutage %j, naming the two choices', (onOutage) => {
    const message = problems(untyped({ redis: { connection: URL, onOutage } }));
    expect(message).toMatch(/redis\.onOutage must be 'fail-closed' or 'local'/);
  });

  it('lists every problem of the option in one error', () => {
    const message = problems(untyped({ redis: { connection: 'http://x', keyPrefix: 7, onOutage: 'open' } }));
    expect(message).toMatch(/redis must be/);
    expect(message).toMatch(/redis\.keyPrefix/);
    expect(message).toMatch(/redis\.onOutage/);
  });
});

describe('the denylist with the redis option', () => {
  it("defaults to 'redis', on the module's connection, when redis is set", () => {
    expect(resolveOptions({ redis: URL }, DEV).denylist).toEqual({ kind: 'redis' });
    expect(resolveOptions({ redis: { connection: URL, onOutage: 'local' } }, DEV).denylist).toEqual({
      kind: 'redis',
    });
  });

  it("accepts 'redis' when redis is set", () => {
    expect(resolveOptions({ redis: URL, denylist: 'redis' }, DEV).denylist).toEqual({ kind: 'redis' });
  });

  it("refuses 'redis' without the redis option, and says to set it", () => {
    expect(problems({ denylist: 'redis' })).toMatch(/denylist 'redis' uses the redis option/);
  });

  it("keeps an explicit 'database' or 'memory' beside redis", () => {
    expect(resolveOptions({ redis: URL, denylist: 'database' }, DEV).denylist).toEqual({
      kind: 'database',
      pollMs: 1000,
    });
    expect(
      resolveOptions({ redis: URL, denylist: 'database', denylistPollInterval: '250ms' }, DEV).denylist,
    ).toEqual({ kind: 'database', pollMs: 250 });
    expect(resolveOptions({ redis: URL, denylist: 'memory' }, DEV).denylist).toEqual({ kind: 'memory' });
  });

  it('keeps a Redis denylist of its own beside the redis option', () => {
    const own = { redis: 'redis://denylist.internal:6379', keyPrefix: 'deny:' };
    const resolved = resolveOptions({ redis: URL, denylist: own }, DEV);
    expect(resolved.denylist).toEqual({ kind: 'redis', options: own });
    expect(resolved.redis?.connection).toBe(URL);
  });
});
