import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The built sample app and CLI (`npm run build`, which `npm test` runs first). */
export const SAMPLE_APP_MAIN = 'dist/sample-app/main.js';
/** The package's CLI, pointed at the sample app's module, as `npm run keys` runs it. */
export const SAMPLE_APP_CLI = 'dist/lib/cli/keybridge.cli.js';
const SAMPLE_APP_KEYS = ['keys', '--module', 'dist/sample-app/cli/keys.module.js'];

/** Variables of the sample app that a test sets itself, left out of the environment a child inherits. */
const APP_VARIABLES = /^(KEYBRIDGE_.*|THROTTLE_.*|PORT|DATABASE_URL|REDIS_.*|HTTP_ADAPTER|NODE_OPTIONS)$/;

/** Colour codes of Nest's console logger, which colours its output even into a pipe. */
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** Children still running, killed when the test process exits however it exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const running of live) running.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/**
 * The environment for a child: this process's (PATH and the like) without the sample app's own variables
 * and without Jest's `--experimental-vm-modules`, plus `env`.
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!APP_VARIABLES.test(name)) base[name] = value;
  return { ...base, NODE_OPTIONS: '', ...env };
}

/**
 * Output of a child, colour codes removed: each stream kept on its own (so a line written to one is never cut
 * by a chunk of the other), and both as they arrived, for diagnostics.
 */
class Output {
  private readonly streams = { stdout: '', stderr: '' };
  private arrived = '';

  constructor(child: ChildProcess) {
    for (const name of ['stdout', 'stderr'] as const) {
      child[name]?.setEncoding('utf8');
      child[name]?.on('data', (chunk: string) => {
        this.streams[name] += chunk;
        this.arrived += chunk;
      });
    }
  }

  /** stdout, then stderr. */
  get all(): string {
    return `${this.streams.stdout}\n${this.streams.stderr}`.replace(ANSI, '');
  }

  get lines(): string[] {
    return this.all.split('\n').filter((line) => line.trim() !== '');
  }

  /** The last `count` lines in the order they arrived. */
  tail(count: number): string[] {
    return this.arrived
      .replace(ANSI, '')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .slice(-count);
  }
}

/** One instance of the built sample app, `node dist/sample-app/main.js`, in a process of its own. */
export class SampleAppProcess {
  readonly url: string;
  private readonly output: Output;
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.output = new Output(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(code);
      }),
    );
  }

  /**
   * Starts the app on `port` with `env` and waits until `GET /health` answers 200. Throws, with the app's
   * output, if it exits or is not up within `readyTimeoutMs` (it runs its migrations first).
   */
  static async start(
    name: string,
    port: number,
    env: Record<string, string>,
    readyTimeoutMs = 60_000,
  ): Promise<SampleAppProcess> {
    if (!existsSync(SAMPLE_APP_MAIN)) {
      throw new Error(`${SAMPLE_APP_MAIN} is missing: run "npm run build" first (npm test does).`);
    }
    const child = spawn(process.execPath, [SAMPLE_APP_MAIN], {
      env: childEnv({ ...env, PORT: String(port) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    const app = new SampleAppProcess(name, port, child);
    const deadline = Date.now() + readyTimeoutMs;
    while (!(await app.healthy())) {
      if (app.exitCode !== undefined || Date.now() > deadline) {
        await app.stop();
        throw new Error(
          `Instance ${name} did not come up on port ${port} (${app.exitCode !== undefined ? `exited with ${app.exitCode}` : `no answer from /health within ${readyTimeoutMs} ms`}):\n${app.tail(40)}`,
        );
      }
      await sleep(100);
    }
    return app;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Everything the process wrote to stdout and stderr, colour codes removed. */
  get log(): string {
    return this.output.all;
  }

  get lines(): string[] {
    return this.output.lines;
  }

  /**
   * The audit events the sample app logged (one JSON line each through Nest's logger, context
   * `KeybridgeAudit`), parsed.
   */
  auditEvents(): Record<string, unknown>[] {
    return this.lines
      .filter((line) => line.includes('[KeybridgeAudit]'))
      .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>);
  }

  /** The last `count` lines of output, for a failure message. */
  tail(count = 30): string {
    const lines = this.output.tail(count);
    return lines.length > 0
      ? lines.map((line) => `  ${this.name}| ${line}`).join('\n')
      : `  ${this.name}| (no output)`;
  }

  /** Stops the app with SIGTERM (it closes gracefully), and with SIGKILL if it is still running after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2000) });
      return res.status === 200;
    } catch {
      return false;
    }
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** When the process exited (epoch ms). */
  exitedAt: number;
  /** How long it ran. */
  ms: number;
}

/** Runs the built keys CLI (`npm run keys`) with `args` in a process of its own, with `env`. */
export function runKeysCli(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<CliResult> {
  if (!existsSync(SAMPLE_APP_CLI)) {
    return Promise.reject(
      new Error(`${SAMPLE_APP_CLI} is missing: run "npm run build" first (npm test does).`),
    );
  }
  const started = Date.now();
  const child = spawn(process.execPath, [SAMPLE_APP_CLI, ...SAMPLE_APP_KEYS, ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  let exitedAt = 0;
  child.once('exit', () => (exitedAt = Date.now()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    // `close` comes after `exit`, once the output has been read to the end.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, exitedAt, ms: exitedAt - started });
    });
  });
}

/**
 * Runs a test body; if it fails, prints the recent output of the app processes before passing the failure on,
 * so a refusal or a crash on their side can be read next to the assertion that caught it.
 */
export async function withDiagnostics(
  apps: readonly (SampleAppProcess | undefined)[],
  body: () => Promise<void>,
): Promise<void> {
  try {
    await body();
  } catch (error) {
    const running = apps.filter((app): app is SampleAppProcess => app !== undefined);
    console.error(
      `Output of the app processes at the failure:\n${running.map((app) => app.tail()).join('\n')}`,
    );
    throw error;
  }
}
