/**
 * The driver's side of `bench-server.ts`: starts it in a child process (pinned to CPU 1 when the driver
 * pins itself to CPU 0), waits for its messages, stops it, and runs its seed task.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchTask, ChildMessage, DatabaseTarget, ServerConfig } from './bench.config.js';
import type { LoadKeys } from './load.routes.js';
import { ROOT, type SeedResult, type Settings } from './run.model.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./bench-server.js', import.meta.url));

export interface Child {
  process: ChildProcess;
  next(type: ChildMessage['type'], timeoutMs: number): Promise<ChildMessage>;
  exited: Promise<number | null>;
}

/** The child running now, so that an interrupted or failed run does not leave a server behind. */
let current: Child | undefined;

/** The file name (without extension) of a server's CPU profile and of its request counts. */
export function profileName(config: ServerConfig): string {
  return (
    `${config.adapter}-${config.db}-${config.keys}-${config.cache}-${config.routes.join('+')}` +
    (config.limits === 'memory' ? '' : `-${config.limits}`)
  );
}

export function startChild(task: BenchTask, settings: Settings): Child {
  const nodeArgs: string[] = [];
  if (settings.profileDir && task.mode === 'serve') {
    mkdirSync(settings.profileDir, { recursive: true });
    nodeArgs.push(
      '--cpu-prof',
      `--cpu-prof-dir=${settings.profileDir}`,
      `--cpu-prof-name=${profileName(task)}.cpuprofile`,
    );
  }
  const command = settings.pin ? 'taskset' : process.execPath;
  const commandArgs = settings.pin
    ? ['-c', '1', process.execPath, ...nodeArgs, SERVER_SCRIPT]
    : [...nodeArgs, SERVER_SCRIPT];
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    env: { ...process.env, BENCH_TASK: JSON.stringify(task) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: ChildMessage[] = [];
  const waiters: (() => void)[] = [];
  child.on('message', (message: ChildMessage) => {
    inbox.push(message);
    waiters.splice(0).forEach((wake) => wake());
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  void exited.then(() => waiters.splice(0).forEach((wake) => wake()));
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const next = (type: ChildMessage['type'], timeoutMs: number): Promise<ChildMessage> =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`the ${task.mode} process sent no "${type}" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = (): void => {
        const index = inbox.findIndex((m) => m.type === type || m.type === 'failed');
        if (index !== -1) {
          clearTimeout(deadline);
          const message = inbox.splice(index, 1)[0];
          if (message.type === 'failed') reject(new Error(message.message));
          else resolve(message);
        } else if (hasExited) {
          clearTimeout(deadline);
          reject(new Error(`the ${task.mode} process exited before sending "${type}"`));
        } else waiters.push(check);
      };
      check();
    });
  current = { process: child, next, exited };
  return current;
}

/** Asks the child to close the app and exit; kills it (by its own pid) if it does not within 15 s. */
export async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.connected) child.process.send('stop');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
  await child.exited;
  clearTimeout(timer);
  if (current === child) current = undefined;
}

/** Kills the running child, if any, when the driver is about to exit without stopping it. */
export function killCurrentChild(): void {
  if (current?.process.exitCode === null) current.process.kill('SIGKILL');
}

/** Pins the driver (all its threads) to CPU 0; gives up pinning altogether if taskset refuses. */
export function pinDriver(settings: Settings): void {
  if (!settings.pin) return;
  const pinned = spawnSync('taskset', ['-a', '-c', '-p', '0', String(process.pid)], { stdio: 'ignore' });
  if (pinned.status !== 0) settings.pin = false;
}

/** Seeds a database in a child process; returns the keys the load presents and how long seeding took. */
export async function seed(
  target: DatabaseTarget,
  settings: Settings,
): Promise<{ loadKeys: LoadKeys; result: SeedResult }> {
  const child = startChild({ mode: 'seed', ...target }, settings);
  try {
    const message = await child.next('seeded', 10 * 60_000);
    if (message.type !== 'seeded') throw new Error('unexpected message');
    return {
      loadKeys: {
        keys: message.keys,
        keyIds: message.keyIds,
        ...(message.limited ? { limited: message.limited } : {}),
        ...(message.quota ? { quota: message.quota } : {}),
      },
      result: {
        db: target.db,
        keys: target.keys,
        ...(message.storedKeys > target.keys ? { storedKeys: message.storedKeys } : {}),
        seedMs: message.seedMs,
        bulkInsertMs: message.bulkInsertMs,
      },
    };
  } finally {
    await stopChild(child);
  }
}
