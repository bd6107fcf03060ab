import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/**
 * `redis-server` processes started by a suite on loopback ports (17000–17099, kept for these suites), each in
 * a temporary directory, without persistence, and stopped with it.
 */

/**
 * The `redis-server` binary on the PATH, when `redis-cli` (which makes the cluster) is there too; else
 * `undefined`, and the suites that start servers are skipped.
 */
export function redisServerBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-cli >/dev/null && command -v redis-server'], {
    encoding: 'utf8',
  });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : undefined;
}

/** Why a suite that starts Redis servers did not run. */
export const NO_REDIS_SERVER =
  'redis-server or redis-cli is not on the PATH: the Redis Cluster and Sentinel suites are skipped';

/** Servers still running, killed if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Whether something already listens on `port` (a server left over by an interrupted run, another program). */
function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class RedisServer {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly args: string[],
    readonly dir: string,
  ) {}

  /** A server on `port`, with `config` lines for its configuration file; `sentinel` starts a Sentinel. */
  static async start(port: number, config: string[] = [], sentinel = false): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), `kb-redis-${port}-`));
    const file = join(dir, 'redis.conf');
    writeFileSync(
      file,
      [`port ${port}`, 'bind 127.0.0.1', 'save ""', 'appendonly no', `dir ${dir}`, ...config].join('\n') +
        '\n',
    );
    const server = new RedisServer(port, sentinel ? [file, '--sentinel'] : [file], dir);
    await server.run();
    return server;
  }

  /** A client of this server alone (a test's, not the module's). */
  client(): Redis {
    return new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  }

  /** Runs `use` with a client of its own, closed afterwards. */
  async with<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = this.client();
    try {
      await redis.connect();
      return await use(redis);
    } finally {
      redis.disconnect();
    }
  }

  /** Starts the server again after `kill` (same configuration, same port). */
  async run(): Promise<void> {
    if (await portTaken(this.port)) {
      throw new Error(`port ${this.port} is already in use: the suite's Redis servers need 17000–17099 free`);
    }
    const binary = redisServerBinary() ?? 'redis-server';
    const child = spawn(binary, this.args, { stdio: 'ignore' });
    running.add(child);
    child.once('exit', () => running.delete(child));
    this.process = child;
    await until(`redis-server on port ${this.port}`, async () => {
      if (child.exitCode !== null)
        throw new Error(`redis-server on port ${this.port} exited (${child.exitCode})`);
      return (await this.with((redis) => redis.ping())) === 'PONG';
    });
  }

  /** Kills the server at once, as a crash would. */
  async kill(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` every 100 ms until it answers true; fails after `timeoutMs` with `what` in the message. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not ready within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`,
      );
    }
    await sleep(100);
  }
}

/** Stops every server in `servers`, whatever state each is in. */
export async function stopAll(servers: readonly (RedisServer | undefined)[]): Promise<void> {
  await Promise.all(servers.map((server) => server?.stop()));
}
