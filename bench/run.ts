/**
 * The benchmark driver: `npm run bench [-- options]`. For each server configuration it starts the fixture app
 * in a child process, then loads `GET /unguarded` and, interleaved with it round after round, the routes
 * under test with autocannon on 127.0.0.1: `GET /guarded` with an API key, the same route with a Bearer
 * token, the token endpoint, and `GET /guarded` with a rate-limited key (counters in memory or in Redis). It
 * reports the median requests/s of each and their ratio to the unguarded
 * baseline measured in the same rounds. See bench/README.md for the options and how to read the results.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type AutocannonResult } from 'autocannon';
import { Redis } from 'ioredis';
import type {
  AdapterName,
  BenchRedis,
  BenchTask,
  CacheMode,
  ChildMessage,
  DatabaseName,
  DatabaseTarget,
  LimitsStore,
  LoadName,
  ProfileWindow,
  RouteName,
  ServerConfig,
} from './bench.config.js';
import { BENCH_RATE_LIMIT, LIMITS_STORES, ROUTE_NAMES } from './bench.config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVER_SCRIPT = fileURLToPath(new URL('./bench-server.js', import.meta.url));
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const HOST = '127.0.0.1';
const MANY_KEYS = 100_000;
/** Upper bound on requests in one run, far above what one core serves: every load loop is bounded in count too. */
const MAX_REQUESTS_PER_SECOND = 200_000;
const WARM_TARGET = 0.9;
/** Tokens the endpoint should mint and sign per second (EdDSA). */
const TOKEN_TARGET = 2000;
const TOKEN_ENDPOINT = '/oauth/token';
/** How each route is named in reports. */
const ROUTE_LABELS: Record<RouteName, string> = {
  apikey: 'API key',
  bearer: 'Bearer JWT',
  token: 'token endpoint',
  limited: 'rate-limited key',
};
/** How each store of rate-limit counters is named in reports. */
const LIMITS_LABELS: Record<LimitsStore, string> = { memory: 'memory', redis: 'Redis' };
/** How far the 100,000-key ratio may fall below the 1-key ratio and still count as "costs no more". */
const KEY_COUNT_TOLERANCE = 0.05;
const SEED_BUDGET_MS = 60_000;
/**
 * A round during which other processes used more CPU than this (in cores) is repeated, within the retry
 * budget: on a shared 2-core machine a busy neighbour moves req/s by ±40 % and would swamp the guard's cost.
 */
const QUIET_LIMIT_CORES = 0.25;

interface Settings {
  connections: number;
  durationSec: number;
  warmupSec: number;
  rounds: number;
  /** Extra rounds allowed per configuration to replace rounds disturbed by other processes. */
  retries: number;
  pin: boolean;
  profileDir: string | undefined;
  /** Where rate limits were counted, one server per store; absent in older reports (memory only). */
  limits?: LimitsStore[];
  /** The Redis of the `redis` store, without its password; absent when no server used Redis. */
  redisUrl?: string;
}

interface RunSample {
  reqPerSec: number;
  total: number;
  /** Responses with a 2xx status. */
  ok: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  failures: number;
  /** What the failures were: status codes, connection errors, timeouts. */
  failureDetail: string;
  /** CPU time (user + system) the server process spent per request served; less noisy than req/s. */
  serverCpuUsPerReq: number | undefined;
  /** CPU time (user + system) of the local redis-server per request served. */
  redisCpuUsPerReq: number | undefined;
  /** Cores' worth of user CPU used by processes other than the server and this driver during the run. */
  otherCpuCores: number | undefined;
}

interface RouteSummary {
  medianReqPerSec: number;
  medianLatencyP50Ms: number;
  medianLatencyP99Ms: number;
  medianServerCpuUsPerReq: number | undefined;
  /** Median CPU of the local redis-server per request; absent in older reports. */
  medianRedisCpuUsPerReq?: number;
  runs: number[];
}

/**
 * One route of one server against the unguarded baseline of the same rounds. A server that loads several
 * routes gives one result per route, sharing `unguarded`.
 */
interface ConfigResult {
  adapter: AdapterName;
  db: DatabaseName;
  keys: number;
  cache: CacheMode;
  /** The route measured in `guarded`; absent in reports from before the OAuth routes (then `apikey`). */
  route?: RouteName;
  /** Where the server counted rate limits; absent in reports from before the option (then `memory`). */
  limits?: LimitsStore;
  unguarded: RouteSummary;
  /** The route under test (for `token`, the token endpoint: its req/s are tokens minted per second). */
  guarded: RouteSummary;
  /** Median route req/s over median unguarded req/s. */
  ratio: number;
  /** Route over unguarded within each round, for the spread. */
  roundRatios: number[];
  /** Median server CPU per unguarded request over median per route request: the ratio without the noise. */
  cpuRatio: number | undefined;
  /** The busiest any other process was during one of the runs used, in cores. */
  maxOtherCpuCores: number | undefined;
  /** Rounds run, and the rounds the medians use (the quiet ones when there are enough); absent in older reports. */
  rounds?: { measured: number; used: number };
  /**
   * For the `limited` route: the hits the server's counter grew by during the load (read from
   * `RateLimit-Remaining` before and after) against the requests the load completed, so a counter that
   * missed requests (or a fallback) shows.
   */
  counted?: { hits: number; completed: number; ok: number; runs: number };
  problems: string[];
}

interface SeedResult {
  db: DatabaseName;
  keys: number;
  /** Rows stored, when more than `keys` (the rate-limited key on top of a single load key). */
  storedKeys?: number;
  seedMs: number;
  bulkInsertMs: number;
}

// ---------------------------------------------------------------------------------------------- arguments

const USAGE = `Usage: npm run bench -- [options]
  --quick              3 rounds of 2 s after a 1 s warm-up (default: 5 rounds of 4 s after 2 s)
  --adapter <list>     express,fastify (default both)
  --db <list>          sqlite,postgres (default both)
  --keys <list>        1,100000 (default both)
  --cache <list>       warm,off (default both; "off" = verified-key cache disabled: the cache-miss path)
  --route <list>       apikey,bearer,token,limited (default all): GET /guarded with X-API-Key; the same
                       route with Authorization: Bearer <EdDSA JWT>; POST /oauth/token (one new EdDSA token
                       per request); GET /guarded with the X-API-Key of a key with a rate limit that is
                       never reached (one counter hit per request). Each is interleaved with the unguarded
                       baseline in the same rounds; bearer, token and limited run with the key cache warm
                       and the fewest keys selected
  --limits <list>      memory,redis (default memory): where rate limits are counted, one server each:
                       in the server's memory, or in Redis (the module's redis option). apikey and limited
                       run with each; bearer and token with the first only
  --redis-url <url>    default redis://127.0.0.1:6379 (keys under keybridge-bench:<run>:, deleted after)
  --rounds <n>  --duration <s>  --warmup <s>  --connections <n> (default 50)
  --retries <n>        extra rounds per configuration to replace rounds disturbed by other processes
                       (default 2; 1 with --quick)
  --pg-url <url>       default postgres://postgres@127.0.0.1:5432/keybridge_bench (created if missing)
  --no-pin             do not pin the client to CPU 0 and the server to CPU 1 with taskset
  --profile            run the server under node --cpu-prof (profiles in bench/results/profiles/, read
                       them with node dist/bench/profile-report.js <profile> --route <route>)
  --out <name>         results file name (default "latest" for a full run, "partial" otherwise)
  --render <name>      only rewrite bench/results/<name>.md from <name>.json (after a report format change)`;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    adapter: { type: 'string', multiple: true },
    db: { type: 'string', multiple: true },
    keys: { type: 'string', multiple: true },
    cache: { type: 'string', multiple: true },
    route: { type: 'string', multiple: true },
    limits: { type: 'string', multiple: true },
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
    rounds: { type: 'string' },
    retries: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/keybridge_bench' },
    'no-pin': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    render: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

function listArg<T extends string>(
  values: string[] | undefined,
  allowed: readonly T[],
  name: string,
  fallback: readonly T[] = allowed,
): T[] {
  if (!values) return [...fallback];
  const picked = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  for (const value of picked) {
    if (!allowed.includes(value as T))
      fail(`--${name} takes ${allowed.join(', ')}; got "${value}".\n${USAGE}`);
  }
  return allowed.filter((value) => picked.includes(value));
}

function numberArg(
  value: string | undefined,
  fallback: number,
  name: string,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number from ${min} to ${max}.`);
  return n;
}

/** A URL as reports may show it: without its password. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return fail(`--redis-url must be a redis:// URL, got ${JSON.stringify(url)}.`);
  }
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const adapters = listArg(args.adapter, ['express', 'fastify'] as const, 'adapter');
const databases = listArg(args.db, ['sqlite', 'postgres'] as const, 'db');
const keyCounts = listArg(args.keys, ['1', String(MANY_KEYS)] as const, 'keys').map(Number);
const cacheModes = listArg(args.cache, ['warm', 'off'] as const, 'cache');
const routeNames = listArg(args.route, ROUTE_NAMES, 'route');
const limitsStores = listArg(args.limits, LIMITS_STORES, 'limits', ['memory']);
const isFullRun =
  !args.quick &&
  [
    'adapter',
    'db',
    'keys',
    'cache',
    'route',
    'limits',
    'rounds',
    'retries',
    'duration',
    'warmup',
    'connections',
  ].every((name) => args[name as keyof typeof args] === undefined);

const settings: Settings = {
  connections: numberArg(args.connections, 50, 'connections', 1, 1000),
  durationSec: numberArg(args.duration, args.quick ? 2 : 4, 'duration', 1, 60),
  warmupSec: numberArg(args.warmup, args.quick ? 1 : 2, 'warmup', 0, 60),
  rounds: numberArg(args.rounds, args.quick ? 3 : 5, 'rounds', 1, 20),
  retries: numberArg(args.retries, args.quick ? 1 : 2, 'retries', 0, 20),
  pin: !args['no-pin'] && cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0,
  profileDir: args.profile ? join(RESULTS_DIR, 'profiles') : undefined,
  limits: limitsStores,
  ...(limitsStores.includes('redis') ? { redisUrl: withoutPassword(args['redis-url']) } : {}),
};
const outName = args.out ?? (isFullRun ? 'latest' : 'partial');
if (!/^[A-Za-z0-9_-]+$/.test(outName)) fail('--out takes a plain file name (letters, digits, - and _).');

// ------------------------------------------------------------------------------------------ child process

interface Child {
  process: ChildProcess;
  next(type: ChildMessage['type'], timeoutMs: number): Promise<ChildMessage>;
  exited: Promise<number | null>;
}

let current: Child | undefined;

/** The file name (without extension) of a server's CPU profile and of its request counts. */
function profileName(config: ServerConfig): string {
  return (
    `${config.adapter}-${config.db}-${config.keys}-${config.cache}-${config.routes.join('+')}` +
    (config.limits === 'memory' ? '' : `-${config.limits}`)
  );
}

function startChild(task: BenchTask): Child {
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
async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.connected) child.process.send('stop');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
  await child.exited;
  clearTimeout(timer);
  if (current === child) current = undefined;
}

process.on('SIGINT', () => {
  if (current?.process.exitCode === null) current.process.kill('SIGKILL');
  process.exit(130);
});

// ------------------------------------------------------------------------------------------------- load

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

interface CpuSnapshot {
  at: number;
  server: { user: number; system: number } | undefined;
  machineUser: number | undefined;
  driverUser: number;
  /** User CPU seconds of the local PostgreSQL and redis-server processes: part of the workload. */
  databaseUser: number;
  /** CPU seconds (user + system) of the local redis-server. */
  redis: number;
}

/** CPU seconds of one process from /proc (Linux), or undefined elsewhere. */
function processCpu(pid: number | undefined): { user: number; system: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** User CPU seconds of the whole machine (user + nice), or undefined off Linux. */
function machineUserCpu(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
    return (Number(fields[1]) + Number(fields[2])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of the local PostgreSQL and Redis processes: on the cache-miss path and with counters in
 * Redis they are part of the workload. `databaseUser` is their user time; `redis` is redis-server's user and
 * system time.
 */
function storeCpu(): { databaseUser: number; redis: number } {
  const total = { databaseUser: 0, redis: 0 };
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return total;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name !== 'postgres' && name !== 'redis-server') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const user = Number(fields[11]) / CLOCK_TICKS;
      total.databaseUser += user;
      if (name === 'redis-server') total.redis += user + Number(fields[12]) / CLOCK_TICKS;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}

function cpuSnapshot(serverPid: number | undefined): CpuSnapshot {
  return {
    at: performance.now(),
    server: processCpu(serverPid),
    machineUser: machineUserCpu(),
    driverUser: process.cpuUsage().user / 1e6,
    ...storeCpu(),
  };
}

/** One run of load against a server, with the server's CPU cost and the machine's other load around it. */
async function run(serverPid: number | undefined, route: Route): Promise<RunSample> {
  const before = cpuSnapshot(serverPid);
  const sample = await load(route, settings.durationSec);
  const after = cpuSnapshot(serverPid);
  if (before.server && after.server && sample.total > 0) {
    const serverCpu = after.server.user + after.server.system - before.server.user - before.server.system;
    sample.serverCpuUsPerReq = (serverCpu * 1e6) / sample.total;
  }
  if (sample.total > 0) sample.redisCpuUsPerReq = ((after.redis - before.redis) * 1e6) / sample.total;
  if (before.server && after.server && before.machineUser !== undefined && after.machineUser !== undefined) {
    const others =
      after.machineUser -
      before.machineUser -
      (after.server.user - before.server.user) -
      (after.driverUser - before.driverUser) -
      (after.databaseUser - before.databaseUser);
    sample.otherCpuCores = Math.max(0, others) / ((after.at - before.at) / 1000);
  }
  return sample;
}

/** What one run sends: a URL, and either one set of headers or one key per connection. */
interface Route {
  url: string;
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Connection i presents `keyPerConnection[i % length]`, so no two requests in flight share a key. */
  keyPerConnection?: readonly string[];
}

function load(route: Route, durationSec: number): Promise<RunSample> {
  const { url, method, headers, body, keyPerConnection } = route;
  let connection = 0;
  return new Promise((resolve, reject) => {
    const watchdog = setTimeout(
      () => {
        instance.stop();
        reject(new Error(`autocannon did not finish ${durationSec} s of load within ${durationSec + 20} s`));
      },
      (durationSec + 20) * 1000,
    );
    const instance = autocannon(
      {
        url,
        connections: settings.connections,
        duration: durationSec,
        maxOverallRequests: Math.max(settings.connections, durationSec * MAX_REQUESTS_PER_SECOND),
        method: method ?? 'GET',
        headers,
        ...(body === undefined ? {} : { body }),
        timeout: 10,
        ...(keyPerConnection
          ? {
              setupClient: (client) => {
                client.setHeaders({ 'x-api-key': keyPerConnection[connection++ % keyPerConnection.length] });
              },
            }
          : {}),
      },
      (error: Error | null, result: AutocannonResult) => {
        clearTimeout(watchdog);
        if (error) return reject(error);
        const statuses = Object.entries(result.statusCodeStats ?? {})
          .filter(([status]) => !status.startsWith('2'))
          .map(([status, { count }]) => `${count} × ${status}`);
        if (result.errors > 0) statuses.push(`${result.errors} errors`);
        if (result.timeouts > 0) statuses.push(`${result.timeouts} timeouts`);
        resolve({
          reqPerSec: result.requests.average,
          total: result.requests.total,
          ok: result['2xx'],
          latencyP50Ms: result.latency.p50,
          latencyP99Ms: result.latency.p99,
          failures: result.non2xx + result.errors + result.timeouts,
          failureDetail: statuses.join(', '),
          serverCpuUsPerReq: undefined,
          redisCpuUsPerReq: undefined,
          otherCpuCores: undefined,
        });
      },
    );
  });
}

/** The keys the load presents, and their ids (the `client_id` of the token endpoint's Basic credentials). */
interface LoadKeys {
  keys: readonly string[];
  keyIds: readonly string[];
  /** The key of the `limited` route, created with `BENCH_RATE_LIMIT`. */
  limited?: { key: string; id: string };
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** RFC 6749 §2.3.1: `client_id:client_secret`, each form-urlencoded, in base64. */
function basicCredentials(clientId: string, secret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/** The token endpoint request of the `token` route, also used once to mint the `bearer` route's token. */
function tokenRequest(base: string, keyId: string, key: string): Route {
  return {
    url: base + TOKEN_ENDPOINT,
    method: 'POST',
    headers: {
      authorization: basicCredentials(keyId, key),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  };
}

/**
 * One request of each kind, so a misconfigured server is caught before it is measured. When an OAuth route
 * is loaded, it also mints (through the real token endpoint) the token the `bearer` route presents. With the
 * `limited` route, it returns the key's `RateLimit-Remaining` after one request.
 */
async function checkServer(
  base: string,
  config: ServerConfig,
  { keys, keyIds, limited }: LoadKeys,
): Promise<{ bearerToken: string | undefined; limitedRemaining: number | undefined }> {
  const send = async (
    route: Route,
    status: number,
  ): Promise<{ status: number; body: string; path: string; headers: Headers }> => {
    const response = await fetch(route.url, {
      method: route.method ?? 'GET',
      headers: route.headers,
      body: route.body,
      signal: AbortSignal.timeout(5000),
    });
    const body = await response.text();
    const path = new URL(route.url).pathname;
    if (response.status !== status) {
      throw new Error(
        `${route.method ?? 'GET'} ${path} answered ${response.status}, expected ${status}: ${body.slice(0, 200)}`,
      );
    }
    return { status: response.status, body, path, headers: response.headers };
  };
  const get = (path: string, headers: Record<string, string>, status: number) =>
    send({ url: base + path, headers }, status);
  await get('/unguarded', {}, 200);
  await get('/guarded', {}, 401);
  for (const key of new Set([keys[0], keys[keys.length - 1]])) {
    const answer = await get('/guarded', { 'x-api-key': key }, 200);
    if (answer.headers.has('ratelimit-limit'))
      throw new Error('the plain load key answered with RateLimit headers: is a module-wide rateLimit set?');
  }
  const limitedRemaining = config.routes.includes('limited')
    ? await checkLimited(base, config, limited)
    : undefined;
  if (!config.routes.includes('bearer') && !config.routes.includes('token'))
    return { bearerToken: undefined, limitedRemaining };

  const minted = await send(tokenRequest(base, keyIds[0], keys[0]), 200);
  const answer = JSON.parse(minted.body) as {
    access_token?: unknown;
    token_type?: unknown;
    expires_in?: unknown;
  };
  if (typeof answer.access_token !== 'string' || answer.token_type !== 'Bearer') {
    throw new Error(
      `POST ${TOKEN_ENDPOINT} answered without a Bearer access_token: ${minted.body.slice(0, 200)}`,
    );
  }
  if (typeof answer.expires_in !== 'number' || answer.expires_in < 60 * 60 - 60) {
    throw new Error(
      `the minted token expires in ${String(answer.expires_in)} s: the bench expects tokenTtl 1h`,
    );
  }
  const header = JSON.parse(Buffer.from(answer.access_token.split('.')[0], 'base64url').toString()) as {
    alg?: unknown;
  };
  if (header.alg !== 'EdDSA')
    throw new Error(`the minted token is signed with ${String(header.alg)}, not EdDSA`);
  await get('/guarded', { authorization: `Bearer ${answer.access_token}` }, 200);
  // A token with a forged signature: refused, so the 200 above did come from a verified token.
  const [head, payload] = answer.access_token.split('.');
  await get('/guarded', { authorization: `Bearer ${head}.${payload}.${'A'.repeat(86)}` }, 401);
  return { bearerToken: answer.access_token, limitedRemaining };
}

/**
 * One request with the rate-limited key: 200 with the `RateLimit-*` headers of `BENCH_RATE_LIMIT`, and with
 * Redis counters, a counter under the server's prefix. Returns `RateLimit-Remaining`.
 */
async function checkLimited(
  base: string,
  config: ServerConfig,
  limited: LoadKeys['limited'],
): Promise<number> {
  if (!limited) throw new Error('the seed created no rate-limited key for the limited route');
  const remaining = await limitedRemaining(base, limited.key);
  if (config.redis) {
    const counters = await redisKeys(config.redis, 'rl:requests:*');
    if (counters.length === 0) {
      throw new Error(
        `no rate-limit counter under ${config.redis.keyPrefix} in Redis after a request of the limited key`,
      );
    }
  }
  return remaining;
}

/** One request with the rate-limited key; its `RateLimit-Remaining`, checked against `BENCH_RATE_LIMIT`. */
async function limitedRemaining(base: string, key: string): Promise<number> {
  const response = await fetch(`${base}/guarded`, {
    headers: { 'x-api-key': key },
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(
      `GET /guarded with the rate-limited key answered ${response.status}: ${body.slice(0, 200)}`,
    );
  }
  const limit = response.headers.get('ratelimit-limit');
  const remaining = Number(response.headers.get('ratelimit-remaining'));
  if (limit !== String(BENCH_RATE_LIMIT.limit) || !Number.isInteger(remaining)) {
    throw new Error(
      `GET /guarded with the rate-limited key answered RateLimit-Limit ${String(limit)}, ` +
        `RateLimit-Remaining ${String(response.headers.get('ratelimit-remaining'))}`,
    );
  }
  return remaining;
}

/** The requests of each load against one server. */
function loadsFor(
  base: string,
  config: ServerConfig,
  { keys, keyIds, limited }: LoadKeys,
  bearerToken: string | undefined,
): Record<LoadName, Route> {
  return {
    // The unguarded route gets no key: the guard returns before reading it on a @Public() route anyway.
    unguarded: { url: `${base}/unguarded`, headers: {} },
    // With the cache warm every connection presents the same key. With the cache off each connection has
    // its own: the module shares one store read between concurrent misses of a key, and the cache-miss
    // path is meant to cost one indexed query per request.
    apikey:
      config.cache === 'warm'
        ? { url: `${base}/guarded`, headers: { 'x-api-key': keys[0] } }
        : { url: `${base}/guarded`, headers: {}, keyPerConnection: keys },
    // One token for every connection: after the first request it is answered from the verified-token
    // cache, and the denylist (its in-memory mirror) is checked on every request.
    bearer: { url: `${base}/guarded`, headers: { authorization: `Bearer ${bearerToken ?? 'not-minted'}` } },
    // Every request authenticates the key (from the key cache) and mints and signs a new token.
    token: tokenRequest(base, keyIds[0], keys[0]),
    // One key on every connection, as for `apikey` with the cache warm; each request counts one hit.
    limited: { url: `${base}/guarded`, headers: { 'x-api-key': limited?.key ?? 'not-seeded' } },
  };
}

async function measure(config: ServerConfig, loadKeys: LoadKeys): Promise<ConfigResult[]> {
  const child = startChild({ mode: 'serve', ...config });
  // With --profile: when each load ran (CLOCK_MONOTONIC µs, the clock of V8's profile timestamps) and how
  // many requests it served, so bench/profile-report.ts can split the profile by load.
  const timeline: ProfileWindow[] = [];
  // Every request the load completed with the rate-limited key, warm-up included, against its counter.
  const limitedLoad = { completed: 0, ok: 0, runs: 0 };
  const timed = async (name: LoadName, work: () => Promise<RunSample>): Promise<RunSample> => {
    const startUs = monotonicUs();
    const sample = await work();
    timeline.push({ load: name, startUs, endUs: monotonicUs(), requests: sample.total });
    if (name === 'limited') {
      limitedLoad.completed += sample.total;
      limitedLoad.ok += sample.ok;
      limitedLoad.runs += 1;
    }
    return sample;
  };
  try {
    const ready = await child.next('ready', 60_000);
    if (ready.type !== 'ready') throw new Error('unexpected message');
    const base = `http://${HOST}:${ready.port}`;
    const { bearerToken, limitedRemaining: remainingBefore } = await checkServer(base, config, loadKeys);
    const loads = loadsFor(base, config, loadKeys, bearerToken);
    const names: LoadName[] = ['unguarded', ...config.routes];
    if (settings.warmupSec > 0) {
      for (const name of names) await timed(name, () => load(loads[name], settings.warmupSec));
    }
    const rounds: { samples: Record<LoadName, RunSample>; quiet: boolean }[] = [];
    const failures: Partial<Record<LoadName, string[]>> = {};
    const quietRounds = (): number => rounds.filter((r) => r.quiet).length;
    while (quietRounds() < settings.rounds && rounds.length < settings.rounds + settings.retries) {
      // ABBA order, generalised to several routes (A B C, C B A, …), so a drift in machine load favours none.
      const order = rounds.length % 2 === 0 ? names : [...names].reverse();
      const samples: Partial<Record<LoadName, RunSample>> = {};
      for (const name of order) {
        const sample = await timed(name, () => run(child.process.pid, loads[name]));
        if (sample.failures > 0) {
          (failures[name] ??= []).push(
            `${name === 'unguarded' ? 'unguarded' : ROUTE_LABELS[name]} round ${rounds.length + 1}: ` +
              `${sample.failures} failed requests (${sample.failureDetail})`,
          );
        }
        samples[name] = sample;
      }
      const quiet = order.every((name) => (samples[name]!.otherCpuCores ?? 0) <= QUIET_LIMIT_CORES);
      rounds.push({ samples: samples as Record<LoadName, RunSample>, quiet });
    }
    // Medians over the quiet rounds when there are enough of them, otherwise over every round (and said so).
    const problems: string[] = [...(failures.unguarded ?? [])];
    let used = rounds.filter((r) => r.quiet);
    if (used.length < Math.ceil(settings.rounds / 2)) {
      problems.push(
        `only ${used.length} of ${rounds.length} rounds ran without other load above ` +
          `${QUIET_LIMIT_CORES} cores; the medians include disturbed rounds`,
      );
      used = rounds;
    }
    const unguarded = summarize(used.map((r) => r.samples.unguarded));
    const counted =
      remainingBefore === undefined
        ? undefined
        : await countedHits(base, loadKeys, remainingBefore, limitedLoad);
    return config.routes.map((route): ConfigResult => {
      const guarded = summarize(used.map((r) => r.samples[route]));
      const others = used.flatMap((r) => [r.samples.unguarded.otherCpuCores, r.samples[route].otherCpuCores]);
      return {
        ...pick(config),
        route,
        limits: config.limits,
        unguarded,
        guarded,
        ratio: guarded.medianReqPerSec / unguarded.medianReqPerSec,
        roundRatios: used.map((r) => r.samples[route].reqPerSec / r.samples.unguarded.reqPerSec),
        cpuRatio:
          unguarded.medianServerCpuUsPerReq !== undefined && guarded.medianServerCpuUsPerReq !== undefined
            ? unguarded.medianServerCpuUsPerReq / guarded.medianServerCpuUsPerReq
            : undefined,
        maxOtherCpuCores: others.every((o) => o !== undefined) ? Math.max(...others) : undefined,
        rounds: { measured: rounds.length, used: used.length },
        ...(route === 'limited' && counted ? { counted: counted.counted } : {}),
        problems: [
          ...problems,
          ...(failures[route] ?? []),
          ...(route === 'limited' && counted?.problem ? [counted.problem] : []),
        ],
      };
    });
  } finally {
    await stopChild(child);
    if (config.redis) await deleteRedisKeys(config.redis);
    if (settings.profileDir) {
      writeFileSync(
        join(settings.profileDir, `${profileName(config)}.loads.json`),
        `${JSON.stringify(timeline, null, 2)}\n`,
      );
    }
  }
}

/**
 * How far the rate-limited key's counter moved during the load (`RateLimit-Remaining` after the check
 * request, then after one more request now), against the requests the load completed. Every completed 2xx
 * was counted; the counter may be ahead by the requests in flight when a run stopped (at most one per
 * connection and run). Anything else is reported as a problem.
 */
async function countedHits(
  base: string,
  { limited }: LoadKeys,
  remainingBefore: number,
  load: { completed: number; ok: number; runs: number },
): Promise<{ counted: NonNullable<ConfigResult['counted']>; problem?: string }> {
  const remainingAfter = await limitedRemaining(base, limited!.key);
  const hits = remainingBefore - remainingAfter - 1;
  const counted = { hits, completed: load.completed, ok: load.ok, runs: load.runs };
  const slack = settings.connections * load.runs;
  if (hits < load.ok || hits > load.completed + slack) {
    return {
      counted,
      problem:
        `the rate-limit counter moved by ${format(hits)} hits while the load completed ${format(load.completed)} ` +
        `requests (${format(load.ok)} 2xx) in ${load.runs} runs`,
    };
  }
  return { counted };
}

// ------------------------------------------------------------------------------------------------- redis

let redisDriver: Redis | undefined;

/** The driver's own connection to the bench's Redis, for checks and clean-up (never the server's). */
function redisClient(url: string): Redis {
  if (!redisDriver) {
    redisDriver = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
    // Failures surface through the commands that need the connection; this only silences ioredis's own log.
    redisDriver.on('error', () => undefined);
  }
  return redisDriver;
}

/** Fails early, with a clear message, when the Redis of `--limits redis` does not answer. */
async function checkRedis(url: string): Promise<void> {
  const client = redisClient(url);
  try {
    if (client.status === 'wait') await client.connect();
    await client.ping();
  } catch (error) {
    fail(
      `--limits redis: Redis at ${withoutPassword(url)} does not answer ` +
        `(${error instanceof Error ? error.message : String(error)}); start it or pass --redis-url.`,
    );
  }
}

/** The keys under a server's prefix that match `pattern` (a SCAN pattern after the prefix). */
async function redisKeys(redis: BenchRedis, pattern: string): Promise<string[]> {
  const client = redisClient(redis.url);
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${redis.keyPrefix}${pattern}`, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Deletes what a server left under its own prefix (its counters), so runs leave nothing behind. */
async function deleteRedisKeys(redis: BenchRedis): Promise<void> {
  try {
    const keys = await redisKeys(redis, '*');
    if (keys.length > 0) await redisClient(redis.url).del(...keys);
  } catch (error) {
    console.warn(
      `  could not delete the Redis keys under ${redis.keyPrefix} (they expire within the hour): ` +
        (error instanceof Error ? error.message : String(error)),
    );
  }
}

async function seed(target: DatabaseTarget): Promise<{ loadKeys: LoadKeys; result: SeedResult }> {
  const child = startChild({ mode: 'seed', ...target });
  try {
    const message = await child.next('seeded', 10 * 60_000);
    if (message.type !== 'seeded') throw new Error('unexpected message');
    return {
      loadKeys: {
        keys: message.keys,
        keyIds: message.keyIds,
        ...(message.limited ? { limited: message.limited } : {}),
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

// ------------------------------------------------------------------------------------------------ results

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function summarize(samples: RunSample[]): RouteSummary {
  const cpu = samples.map((s) => s.serverCpuUsPerReq);
  const redisCpu = samples.map((s) => s.redisCpuUsPerReq);
  return {
    medianReqPerSec: Math.round(median(samples.map((s) => s.reqPerSec))),
    medianLatencyP50Ms: median(samples.map((s) => s.latencyP50Ms)),
    medianLatencyP99Ms: median(samples.map((s) => s.latencyP99Ms)),
    medianServerCpuUsPerReq: cpu.every((c) => c !== undefined)
      ? Math.round(median(cpu) * 10) / 10
      : undefined,
    ...(redisCpu.every((c) => c !== undefined)
      ? { medianRedisCpuUsPerReq: Math.round(median(redisCpu) * 10) / 10 }
      : {}),
    runs: samples.map((s) => Math.round(s.reqPerSec)),
  };
}

function pick(config: ServerConfig): Pick<ConfigResult, 'adapter' | 'db' | 'keys' | 'cache'> {
  return { adapter: config.adapter, db: config.db, keys: config.keys, cache: config.cache };
}

function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    };
    return manifest.version;
  } catch {
    return 'unknown';
  }
}

/**
 * A digest of the compiled library the servers load. Others may rebuild dist/ while a long run goes on; a
 * change between configurations is reported instead of silently mixing two versions in one table.
 */
function libFingerprint(): string {
  const digest = createHash('sha256');
  const libDir = join(ROOT, 'dist', 'lib');
  const files = readdirSync(libDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .sort();
  for (const file of files) digest.update(file).update(readFileSync(join(libDir, file)));
  return digest.digest('hex').slice(0, 16);
}

function gitDescription(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'lib'], { cwd: ROOT, encoding: 'utf8' });
  return `${head.stdout.trim()}${dirty.stdout?.trim() ? ' (lib/ has uncommitted changes)' : ''}`;
}

function commandLine(): string {
  const rest = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${rest ? ` -- ${rest}` : ''}`;
  return `node dist/bench/run.js${rest ? ` ${rest}` : ''}`;
}

const format = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratioText = (n: number): string => n.toFixed(2);
const keyCount = (n: number): string => `${format(n)} key${n === 1 ? '' : 's'}`;

interface KeyCountComparison {
  adapter: AdapterName;
  db: DatabaseName;
  cache: CacheMode;
  ratioOneKey: number;
  ratioManyKeys: number;
  guardedOneKey: number;
  guardedManyKeys: number;
  ok: boolean;
}

/** The route a result measured; reports from before the OAuth routes measured the API key only. */
const routeOf = (result: ConfigResult): RouteName => result.route ?? 'apikey';
/** Where a result's server counted rate limits; reports from before the option counted in memory. */
const limitsOf = (result: ConfigResult): LimitsStore => result.limits ?? 'memory';
/** The server a result comes from: its routes share the unguarded baseline. */
const serverId = (r: ConfigResult): string => `${r.adapter}/${r.db}/${r.keys}/${r.cache}/${limitsOf(r)}`;

function limitsDescription(store: LimitsStore, settings: Settings): string {
  return store === 'memory'
    ? '"memory" = in the server process (no `redis` option)'
    : `"Redis" = the module's \`redis\` option, \`{ connection: '${settings.redisUrl ?? 'redis://…'}', ` +
        `keyPrefix }\` with a prefix per run and server, one EVALSHA per request of a rate-limited key ` +
        "(`denylist: 'database'` as without it; redis-server is not pinned and its CPU is counted apart)";
}

/**
 * One line per server that loaded the rate-limited key: its ratio beside the plain API key's, the server CPU
 * the limit adds to an API-key request, and Redis's own CPU per request; then memory and Redis counters side
 * by side for each adapter and database.
 */
function limitsSummary(results: ConfigResult[]): string[] {
  const servers = new Map<string, { apikey?: ConfigResult; limited?: ConfigResult }>();
  for (const r of results) {
    const route = routeOf(r);
    if (route !== 'apikey' && route !== 'limited') continue;
    const id = serverId(r);
    servers.set(id, { ...servers.get(id), [route]: r });
  }
  const cpu = (r: ConfigResult | undefined): number | undefined => r?.guarded.medianServerCpuUsPerReq;
  const added = (s: { apikey?: ConfigResult; limited?: ConfigResult }): number | undefined => {
    const [apikey, limited] = [cpu(s.apikey), cpu(s.limited)];
    return apikey === undefined || limited === undefined ? undefined : limited - apikey;
  };
  const cell = (value: number | undefined, text: (n: number) => string): string =>
    value === undefined ? '–' : text(value);
  const micro = (n: number): string => n.toFixed(1);
  const lines = [
    '## Rate-limited key',
    '',
    'Ratios to the unguarded route of the same server and rounds. "limit adds" = server CPU per rate-limited',
    'request minus per plain API-key request of the same server; "Redis CPU" = CPU of the local redis-server',
    'per rate-limited request (its whole work: other clients included); "hits counted" = how far the',
    "key's counter moved during the load / requests the load completed (the counter may be ahead by the",
    'requests in flight when a run stopped).',
    '',
    '| adapter | db | keys | limits | unguarded req/s | API key ratio | rate-limited req/s | **ratio** | CPU ratio | server CPU µs/req (unguarded → API key → limited) | limit adds µs | Redis CPU µs | limited p99 ms | hits counted |',
    '|---|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|',
  ];
  for (const server of servers.values()) {
    const { apikey, limited } = server;
    if (!limited) continue;
    lines.push(
      `| ${limited.adapter} | ${limited.db} | ${format(limited.keys)} | ${LIMITS_LABELS[limitsOf(limited)]} | ` +
        `${format(limited.unguarded.medianReqPerSec)} | ${cell(apikey?.ratio, ratioText)} | ` +
        `${format(limited.guarded.medianReqPerSec)} | **${ratioText(limited.ratio)}** | ` +
        `${cell(limited.cpuRatio, ratioText)} | ${cell(limited.unguarded.medianServerCpuUsPerReq, micro)} → ` +
        `${cell(cpu(apikey), micro)} → ${cell(cpu(limited), micro)} | ${cell(added(server), micro)} | ` +
        `${cell(limited.guarded.medianRedisCpuUsPerReq, micro)} | ${limited.guarded.medianLatencyP99Ms} | ` +
        (limited.counted ? `${format(limited.counted.hits)} / ${format(limited.counted.completed)}` : '–') +
        ' |',
    );
  }
  // Memory and Redis counters side by side, per adapter, database, key count and cache mode.
  const pairs = new Map<
    string,
    Partial<Record<LimitsStore, { apikey?: ConfigResult; limited?: ConfigResult }>>
  >();
  for (const [id, server] of servers) {
    if (!server.limited) continue;
    const group = id.slice(0, id.lastIndexOf('/'));
    pairs.set(group, { ...pairs.get(group), [limitsOf(server.limited)]: server });
  }
  const both = [...pairs.values()].filter((p) => p.memory?.limited && p.redis?.limited);
  if (both.length > 0) {
    lines.push(
      '',
      'Memory and Redis counters side by side ("Redis round trip" = what the limit adds with Redis minus what',
      'it adds in memory, in server CPU per request):',
      '',
      '| adapter | db | ratio, memory | ratio, Redis | CPU ratio, memory | CPU ratio, Redis | limit adds µs, memory | limit adds µs, Redis | **Redis round trip µs** | Redis CPU µs |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const pair of both) {
      const [memory, redis] = [pair.memory!, pair.redis!];
      const [inMemory, inRedis] = [added(memory), added(redis)];
      lines.push(
        `| ${memory.limited!.adapter} | ${memory.limited!.db} | ${ratioText(memory.limited!.ratio)} | ` +
          `**${ratioText(redis.limited!.ratio)}** | ${cell(memory.limited!.cpuRatio, ratioText)} | ` +
          `${cell(redis.limited!.cpuRatio, ratioText)} | ${cell(inMemory, micro)} | ${cell(inRedis, micro)} | ` +
          `**${inMemory === undefined || inRedis === undefined ? '–' : micro(inRedis - inMemory)}** | ` +
          `${cell(redis.limited!.guarded.medianRedisCpuUsPerReq, micro)} |`,
      );
    }
  }
  return lines;
}

function keyCountComparisons(all: ConfigResult[]): KeyCountComparison[] {
  const comparisons: KeyCountComparison[] = [];
  const results = all.filter((r) => routeOf(r) === 'apikey');
  for (const one of results.filter((r) => r.keys === 1)) {
    const many = results.find(
      (r) =>
        r.keys === MANY_KEYS &&
        r.adapter === one.adapter &&
        r.db === one.db &&
        r.cache === one.cache &&
        limitsOf(r) === limitsOf(one),
    );
    if (!many) continue;
    comparisons.push({
      adapter: one.adapter,
      db: one.db,
      cache: one.cache,
      ratioOneKey: one.ratio,
      ratioManyKeys: many.ratio,
      guardedOneKey: one.guarded.medianReqPerSec,
      guardedManyKeys: many.guarded.medianReqPerSec,
      ok: many.ratio >= one.ratio - KEY_COUNT_TOLERANCE,
    });
  }
  return comparisons;
}

function markdown(report: Report): string {
  const routes = new Set(report.results.map(routeOf));
  const stores = [...new Set(report.results.map(limitsOf))];
  const lines = [
    `# nestjs-keybridge benchmark: ${report.outName}`,
    '',
    `- Date: ${report.date}`,
    `- Command: \`${report.command}\``,
    `- Code: commit ${report.git}; compiled lib/ fingerprint ${report.libFingerprint}`,
    `- Node ${report.node}, NestJS ${report.versions['@nestjs/core']}, Fastify ${report.versions.fastify}, ` +
      `Express ${report.versions.express}, TypeORM ${report.versions.typeorm}, ` +
      `better-sqlite3 ${report.versions['better-sqlite3']}, pg ${report.versions.pg}, ` +
      `autocannon ${report.versions.autocannon}` +
      (report.versions.jose ? `, jose ${report.versions.jose}` : ''),
    `- Machine: ${report.machine.cpus} × ${report.machine.cpuModel}; load average at start ` +
      `${report.machine.loadAverageAtStart.map((n) => n.toFixed(2)).join(' ')}, at end ` +
      `${report.machine.loadAverageAtEnd.map((n) => n.toFixed(2)).join(' ')}`,
    `- Load: autocannon -c ${report.settings.connections}, ${report.settings.rounds} interleaved rounds ` +
      `(ABBA) of ${report.settings.durationSec} s per route after ${report.settings.warmupSec} s of warm-up, ` +
      `up to ${report.settings.retries} extra rounds replacing rounds disturbed by other processes ` +
      `(> ${QUIET_LIMIT_CORES} cores), loopback only; ` +
      (report.settings.pin ? 'client pinned to CPU 0, server to CPU 1.' : 'no CPU pinning.'),
    '- Routes, each loaded in the same rounds as the unguarded baseline `GET /unguarded` of its server:',
    '  "API key" = `GET /guarded` with `X-API-Key`; "Bearer JWT" = the same route with',
    '  `Authorization: Bearer <token>`, one EdDSA token minted per server through `POST /oauth/token` (verified',
    '  once, then answered from the verified-token cache; the database denylist is checked on every request);',
    '  "token endpoint" = `POST /oauth/token`, `grant_type=client_credentials` with HTTP Basic: every request',
    '  authenticates the key and mints and signs a new EdDSA token, so its req/s are tokens per second.',
    ...(routes.has('limited')
      ? [
          '  "rate-limited key" = `GET /guarded` with the `X-API-Key` of a key created with',
          `  \`rateLimit: { limit: ${BENCH_RATE_LIMIT.limit}, window: '${BENCH_RATE_LIMIT.window}' }\` (never ` +
            'reached): every request also counts one hit',
          '  in the rate-limit counters and sends the `RateLimit-*` headers.',
        ]
      : []),
    `- Rate-limit counters ("limits"): ${stores.map((store) => limitsDescription(store, report.settings)).join('; ')}.`,
    '- req/s are medians over the rounds; ratio = median route req/s / median unguarded req/s; "round ratios"',
    '  is the range of route/unguarded within each round. "cache off" is the cache-miss path, one indexed query',
    `  per guarded request: each of the ${report.settings.connections} connections presents its own key, since the module`,
    '  shares one store read between concurrent misses of the same key. It runs with 100,000 stored keys.',
    '- Server CPU µs/req: CPU time (user + system) of the server process per request served, median over the',
    '  rounds (unguarded → route); "CPU ratio" = unguarded µs / route µs, the throughput ratio a saturated',
    "  server would show, and much less sensitive to other load on the machine. It excludes PostgreSQL's own",
    '  work. "Other load" is the most CPU (in cores) other processes (PostgreSQL excluded) used during one of',
    '  the runs used; "rounds" is rounds used / rounds run.',
    ...(stores.includes('redis')
      ? ["  Redis's work is excluded from both too (it is counted apart), as PostgreSQL's."]
      : []),
    '',
    '| adapter | db | keys | cache | limits | route | unguarded req/s | route req/s | ratio | round ratios | server CPU µs/req | CPU ratio | route p99 ms | other load | rounds |',
    '|---|---|---:|---|---|---|---:|---:|---:|---|---|---:|---:|---:|---:|',
  ];
  for (const r of report.results) {
    lines.push(
      `| ${r.adapter} | ${r.db} | ${format(r.keys)} | ${r.cache} | ${LIMITS_LABELS[limitsOf(r)]} | ` +
        `${ROUTE_LABELS[routeOf(r)]} | ` +
        `${format(r.unguarded.medianReqPerSec)} | ` +
        `${format(r.guarded.medianReqPerSec)} | **${ratioText(r.ratio)}** | ` +
        `${ratioText(Math.min(...r.roundRatios))}–${ratioText(Math.max(...r.roundRatios))} | ` +
        `${r.unguarded.medianServerCpuUsPerReq ?? '–'} → ${r.guarded.medianServerCpuUsPerReq ?? '–'} | ` +
        `${r.cpuRatio === undefined ? '–' : ratioText(r.cpuRatio)} | ${r.guarded.medianLatencyP99Ms} | ` +
        `${r.maxOtherCpuCores === undefined ? '–' : r.maxOtherCpuCores.toFixed(2)} | ` +
        `${r.rounds ? `${r.rounds.used}/${r.rounds.measured}` : '–'} |`,
    );
  }
  if (routes.has('bearer') || routes.has('token')) lines.push('', ...oauthSummary(report.results));
  if (routes.has('limited')) lines.push('', ...limitsSummary(report.results));
  lines.push('', '## Targets', '');
  const ratioTarget = (label: string, results: ConfigResult[]): void => {
    if (results.length === 0) return;
    const met = results.filter((r) => r.ratio >= WARM_TARGET);
    const metByCpu = results.filter((r) => r.cpuRatio !== undefined && r.cpuRatio >= WARM_TARGET);
    lines.push(
      `- ${label} keeps ≥ ${WARM_TARGET * 100} % of the unguarded throughput: ` +
        `${met.length} of ${results.length} configurations by req/s` +
        (met.length < results.length
          ? ` (below: ${results
              .filter((r) => r.ratio < WARM_TARGET)
              .map((r) => `${r.adapter}/${r.db}/${keyCount(r.keys)} ${r.ratio.toFixed(3)}`)
              .join(', ')})`
          : '') +
        `; ${metByCpu.length} of ${results.length} by server CPU per request.`,
    );
  };
  ratioTarget(
    'Guard with the cache warm',
    report.results.filter((r) => r.cache === 'warm' && routeOf(r) === 'apikey'),
  );
  ratioTarget(
    'Bearer token (verified-token cache warm)',
    report.results.filter((r) => routeOf(r) === 'bearer'),
  );
  const token = report.results.filter((r) => routeOf(r) === 'token');
  if (token.length > 0) {
    const met = token.filter((r) => r.guarded.medianReqPerSec >= TOKEN_TARGET);
    lines.push(
      `- Token endpoint mints ≥ ${format(TOKEN_TARGET)} EdDSA tokens/s: ${met.length} of ${token.length} ` +
        `configurations (${token
          .map((r) => `${r.adapter}/${r.db} ${format(r.guarded.medianReqPerSec)}`)
          .join(', ')}).`,
    );
  }
  const comparisons = keyCountComparisons(report.results);
  if (comparisons.length > 0) {
    lines.push(
      `- ${format(MANY_KEYS)} keys cost no more than 1 key (ratio at ${format(MANY_KEYS)} keys at most ` +
        `${KEY_COUNT_TOLERANCE.toFixed(2)} below the ratio at 1 key): ` +
        `${comparisons.filter((c) => c.ok).length} of ${comparisons.length} pairs.`,
      '',
      `| adapter | db | cache | ratio, 1 key | ratio, ${format(MANY_KEYS)} keys | guarded req/s, 1 key | guarded req/s, ${format(MANY_KEYS)} keys |`,
      '|---|---|---|---:|---:|---:|---:|',
      ...comparisons.map(
        (c) =>
          `| ${c.adapter} | ${c.db} | ${c.cache} | ${ratioText(c.ratioOneKey)} | ${ratioText(c.ratioManyKeys)} | ` +
          `${format(c.guardedOneKey)} | ${format(c.guardedManyKeys)} |`,
      ),
    );
  }
  if (report.seeds.length > 0) {
    lines.push('', '## Seeding', '');
    for (const s of report.seeds) {
      lines.push(
        `- ${s.db}, ${keyCount(s.keys)}` +
          (s.storedKeys ? ` (${format(s.storedKeys)} stored with the rate-limited key)` : '') +
          `: ${(s.seedMs / 1000).toFixed(1)} s in all ` +
          `(bulk insert ${(s.bulkInsertMs / 1000).toFixed(1)} s)` +
          (s.seedMs > SEED_BUDGET_MS ? ' — over the 1-minute budget' : ''),
      );
    }
  }
  const problems = report.results.flatMap((r) =>
    r.problems.map(
      (p) =>
        `${r.adapter}/${r.db}/${keyCount(r.keys)}/cache ${r.cache}` +
        (limitsOf(r) === 'memory' ? '' : `/limits ${LIMITS_LABELS[limitsOf(r)]}`) +
        `/${ROUTE_LABELS[routeOf(r)]}: ${p}`,
    ),
  );
  if (problems.length > 0) lines.push('', '## Problems', '', ...[...new Set(problems)].map((p) => `- ${p}`));
  lines.push('');
  return lines.join('\n');
}

/** One line per server that loaded an OAuth route: its routes' ratios side by side, and tokens per second. */
function oauthSummary(results: ConfigResult[]): string[] {
  const servers = new Map<string, ConfigResult[]>();
  for (const r of results) {
    const id = serverId(r);
    servers.set(id, [...(servers.get(id) ?? []), r]);
  }
  const lines = [
    '## OAuth routes',
    '',
    'Ratios to the unguarded route of the same server and rounds; tokens/s = median req/s of the token endpoint.',
    '',
    '| adapter | db | keys | unguarded req/s | API key ratio | Bearer req/s | Bearer ratio | Bearer CPU ratio | tokens/s | token ratio | token CPU µs |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const group of servers.values()) {
    const by = (route: RouteName) => group.find((r) => routeOf(r) === route);
    const [apikey, bearer, token] = [by('apikey'), by('bearer'), by('token')];
    if (!bearer && !token) continue;
    const first = group[0];
    const cell = (value: number | undefined, text: (n: number) => string): string =>
      value === undefined ? '–' : text(value);
    lines.push(
      `| ${first.adapter} | ${first.db} | ${format(first.keys)} | ${format(first.unguarded.medianReqPerSec)} | ` +
        `${cell(apikey?.ratio, ratioText)} | ${cell(bearer?.guarded.medianReqPerSec, format)} | ` +
        `${cell(bearer?.ratio, (n) => `**${ratioText(n)}**`)} | ${cell(bearer?.cpuRatio, ratioText)} | ` +
        `${cell(token?.guarded.medianReqPerSec, (n) => `**${format(n)}**`)} | ${cell(token?.ratio, ratioText)} | ` +
        `${cell(token?.guarded.medianServerCpuUsPerReq, String)} |`,
    );
  }
  return lines;
}

interface Report {
  outName: string;
  date: string;
  command: string;
  git: string;
  libFingerprint: string;
  node: string;
  versions: Record<string, string>;
  machine: { cpus: number; cpuModel: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  settings: Settings;
  seeds: SeedResult[];
  results: ConfigResult[];
  targets: { warmRatio: number; keyCountTolerance: number; tokensPerSecond?: number };
  durationSec: number;
}

function writeReport(report: Report): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  report.machine.loadAverageAtEnd = loadavg();
  writeFileSync(join(RESULTS_DIR, `${outName}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, `${outName}.md`), markdown(report));
}

// --------------------------------------------------------------------------------------------------- main

function pinSelf(): void {
  if (!settings.pin) return;
  const pinned = spawnSync('taskset', ['-a', '-c', '-p', '0', String(process.pid)], { stdio: 'ignore' });
  if (pinned.status !== 0) settings.pin = false;
}

/** Rewrites a report's markdown from its JSON, without running anything. */
function render(name: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) fail('--render takes a plain file name (letters, digits, - and _).');
  const report = JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8')) as Report;
  writeFileSync(join(RESULTS_DIR, `${name}.md`), markdown(report));
  console.log(`Rewrote bench/results/${name}.md from ${name}.json.`);
}

async function main(): Promise<void> {
  if (args.render !== undefined) return render(args.render);
  const started = Date.now();
  pinSelf();
  const tempDir = mkdtempSync(join(tmpdir(), 'keybridge-bench-'));
  // Each database is seeded once per key count, then served by every adapter and cache mode.
  const plan: { target: DatabaseTarget; configs: ServerConfig[] }[] = [];
  const warmOnlyRoutes = routeNames.filter((route) => route !== 'apikey');
  if (warmOnlyRoutes.length > 0 && !cacheModes.includes('warm')) {
    console.warn(`skipping ${warmOnlyRoutes.join(', ')}: they run with the key cache warm only`);
  }
  // Unique per run and server: no two servers share a counter, and each one's keys are deleted after it.
  const runId = `${Date.now().toString(36)}-${process.pid}`;
  let redisServers = 0;
  const redisFor = (limits: LimitsStore): BenchRedis | undefined =>
    limits === 'redis'
      ? { url: args['redis-url'], keyPrefix: `keybridge-bench:${runId}:${++redisServers}:` }
      : undefined;
  for (const db of databases) {
    for (const keys of keyCounts) {
      const location = db === 'sqlite' ? join(tempDir, `keys-${keys}.sqlite`) : args['pg-url'];
      // The cache-miss path needs one key per connection (see measure()), so it runs where that many fit.
      const loadKeys = keys >= settings.connections ? settings.connections : 1;
      const limitedKey =
        routeNames.includes('limited') && cacheModes.includes('warm') && keys === keyCounts[0];
      const target: DatabaseTarget = { db, location, keys, loadKeys, ...(limitedKey ? { limitedKey } : {}) };
      const modes = cacheModes.filter((cache) => cache === 'warm' || loadKeys >= settings.connections);
      if (modes.length < cacheModes.length && args.cache?.length && routeNames.includes('apikey')) {
        console.warn(
          `skipping cache off with ${keys} key(s): the miss path needs ${settings.connections} keys, one per connection`,
        );
      }
      const configs = modes.flatMap((cache) =>
        adapters.flatMap((adapter) =>
          limitsStores.flatMap((limits): ServerConfig[] => {
            // The Bearer route never reads the key store, the token endpoint and the rate-limited key are
            // read from the warm key cache: the number of stored keys does not matter to them, so they run
            // once, with the fewest keys. The OAuth routes count no per-key limit (the mint limits are off):
            // they run with the first store of counters only.
            const routes = routeNames.filter((route) => {
              if (route === 'apikey') return true;
              if (cache !== 'warm' || keys !== keyCounts[0]) return false;
              return route === 'limited' || limits === limitsStores[0];
            });
            if (routes.length === 0) return [];
            const redis = redisFor(limits);
            return [{ ...target, adapter, cache, routes, limits, ...(redis ? { redis } : {}) }];
          }),
        ),
      );
      if (configs.length > 0) plan.push({ target, configs });
    }
  }
  if (plan.length === 0) fail('Nothing to run with these filters.');
  if (limitsStores.includes('redis')) await checkRedis(args['redis-url']);
  const configCount = plan.reduce((n, step) => n + step.configs.length, 0);
  const loadSec = plan
    .flatMap((step) => step.configs)
    .reduce(
      (total, config) =>
        total +
        3 +
        (1 + config.routes.length) * (settings.warmupSec + settings.rounds * settings.durationSec),
      0,
    );
  console.log(
    `nestjs-keybridge bench: ${configCount} server configurations, about ` +
      `${Math.ceil(loadSec / 60)} min of load plus seeding ` +
      `(more if rounds disturbed by other processes are repeated)` +
      (settings.pin ? '; client on CPU 0, server on CPU 1' : ''),
  );

  const report: Report = {
    outName,
    date: new Date().toISOString(),
    command: commandLine(),
    git: gitDescription(),
    libFingerprint: libFingerprint(),
    node: process.version,
    versions: Object.fromEntries(
      ['@nestjs/core', 'fastify', 'express', 'typeorm', 'better-sqlite3', 'pg', 'autocannon', 'jose'].map(
        (name) => [name, packageVersion(name)],
      ),
    ),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverageAtStart: loadavg(),
      loadAverageAtEnd: [],
    },
    settings,
    seeds: [],
    results: [],
    targets: {
      warmRatio: WARM_TARGET,
      keyCountTolerance: KEY_COUNT_TOLERANCE,
      tokensPerSecond: TOKEN_TARGET,
    },
    durationSec: 0,
  };

  try {
    for (const { target, configs } of plan) {
      process.stdout.write(`seeding ${target.db} with ${format(target.keys)} key(s)… `);
      const { loadKeys, result } = await seed(target);
      report.seeds.push(result);
      console.log(`${(result.seedMs / 1000).toFixed(1)} s`);
      if (result.seedMs > SEED_BUDGET_MS) console.warn(`  seeding took over ${SEED_BUDGET_MS / 1000} s`);
      for (const config of configs) {
        const { adapter, cache } = config;
        const label =
          `${adapter.padEnd(7)} ${target.db.padEnd(8)} ${format(target.keys).padStart(7)} keys  cache ` +
          `${cache.padEnd(4)}  limits ${config.limits.padEnd(6)}`;
        process.stdout.write(`${label} (${config.routes.join(', ')}) …\n`);
        const results = await measure(config, loadKeys);
        const fingerprint = libFingerprint();
        for (const result of results) {
          if (fingerprint !== report.libFingerprint) {
            result.problems.push(
              `dist/lib changed during the run (now ${fingerprint}): rebuilt by someone else?`,
            );
          }
          report.results.push(result);
          console.log(
            `  ${ROUTE_LABELS[routeOf(result)].padEnd(16)}  unguarded ` +
              `${format(result.unguarded.medianReqPerSec).padStart(6)}  route ` +
              `${format(result.guarded.medianReqPerSec).padStart(6)}  ratio ${ratioText(result.ratio)}` +
              (result.cpuRatio === undefined ? '' : `  CPU ratio ${ratioText(result.cpuRatio)}`) +
              (result.problems.length ? `  (${result.problems.length} problem(s))` : ''),
          );
        }
        report.durationSec = Math.round((Date.now() - started) / 1000);
        writeReport(report);
      }
    }
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
    redisDriver?.disconnect();
  }
  report.durationSec = Math.round((Date.now() - started) / 1000);
  writeReport(report);
  console.log(`\n${markdown(report)}`);
  console.log(`Results: bench/results/${outName}.json and .md (${Math.round(report.durationSec / 60)} min).`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    if (current?.process.exitCode === null) current.process.kill('SIGKILL');
    process.exit(1);
  },
);
