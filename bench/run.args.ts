/** The benchmark driver's command line: `npm run bench -- [options]`, read into the run's options. */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AdapterName, CacheMode, DatabaseName, LimitsStore, RouteName } from './bench.config.js';
import { LIMITS_STORES, ROUTE_NAMES } from './bench.config.js';
import { MANY_KEYS, RESULTS_DIR, type Settings } from './run.model.js';

export const USAGE = `Usage: npm run bench -- [options]
  --quick              3 rounds of 2 s after a 1 s warm-up (default: 5 rounds of 4 s after 2 s)
  --adapter <list>     express,fastify (default both)
  --db <list>          sqlite,postgres (default both)
  --keys <list>        1,100000 (default both)
  --cache <list>       warm,off (default both; "off" = verified-key cache disabled: the cache-miss path)
  --route <list>       apikey,bearer,token,limited,dpop,quota (default all): GET /guarded with X-API-Key;
                       the same route with Authorization: Bearer <EdDSA JWT>; POST /oauth/token (one new
                       EdDSA token per request); GET /guarded with the X-API-Key of a key with a rate limit
                       that is never reached (one counter hit per request); GET /guarded with Authorization:
                       DPoP <bound JWT> and a new Ed25519 DPoP proof per request (its jti claimed once in
                       the replay cache: the database, or Redis with --limits redis); GET /guarded with the
                       X-API-Key of a key whose quota is never used up (one unit spent per request). Each is
                       interleaved with the unguarded baseline in the same rounds ("unguarded" may be
                       listed, it always runs); bearer, token, limited, dpop and quota run with the key
                       cache warm and the fewest keys selected
  --limits <list>      memory,redis,leased (default memory): where rate limits and quotas are counted, one
                       server each: in the server's memory (quotas from database leases), in Redis (the
                       module's redis option, exact mode), or leased with Redis set (rateLimitMode
                       'leased' and quotaSync.mode 'leased', blocks of 100: rate limits from Redis blocks,
                       the quota key from database leases). apikey, limited, dpop and quota run with
                       each; bearer and token with the first only
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

export interface RunOptions {
  adapters: AdapterName[];
  databases: DatabaseName[];
  keyCounts: number[];
  cacheModes: CacheMode[];
  routeNames: RouteName[];
  limitsStores: LimitsStore[];
  /** Whether `--cache` was given: only then is a skipped miss path worth a warning. */
  cacheChosen: boolean;
  /** As given, password included: the servers and the driver connect with it; reports never show it. */
  redisUrl: string;
  pgUrl: string;
  settings: Settings;
  outName: string;
  /** `--render <name>`: rewrite that report's markdown and run nothing. */
  render: string | undefined;
}

/** The filters that make a run partial: without any of them (and without --quick) it is the full run. */
const FILTERS = [
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
] as const;

/** Reads the command line; prints the usage and exits on --help, exits with status 2 on a bad option. */
export function parseRunArgs(argv: string[] = process.argv.slice(2)): RunOptions {
  const { values: args } = parseArgs({
    args: argv,
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

  const adapters = listArg(args.adapter, ['express', 'fastify'] as const, 'adapter');
  const databases = listArg(args.db, ['sqlite', 'postgres'] as const, 'db');
  const keyCounts = listArg(args.keys, ['1', String(MANY_KEYS)] as const, 'keys').map(Number);
  const cacheModes = listArg(args.cache, ['warm', 'off'] as const, 'cache');
  // The unguarded baseline runs beside every route: naming it is allowed and changes nothing.
  const routes = args.route?.flatMap((v) => v.split(',')).filter((v) => v.trim() !== 'unguarded');
  const routeNames = listArg(routes?.length ? routes : args.route, ROUTE_NAMES, 'route');
  const limitsStores = listArg(args.limits, LIMITS_STORES, 'limits', ['memory']);
  const isFullRun = !args.quick && FILTERS.every((name) => args[name] === undefined);

  const settings: Settings = {
    connections: numberArg(args.connections, 50, 'connections', 1, 1000),
    durationSec: numberArg(args.duration, args.quick ? 2 : 4, 'duration', 1, 60),
    warmupSec: numberArg(args.warmup, args.quick ? 1 : 2, 'warmup', 0, 60),
    rounds: numberArg(args.rounds, args.quick ? 3 : 5, 'rounds', 1, 20),
    retries: numberArg(args.retries, args.quick ? 1 : 2, 'retries', 0, 20),
    pin: !args['no-pin'] && cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0,
    profileDir: args.profile ? join(RESULTS_DIR, 'profiles') : undefined,
    limits: limitsStores,
    ...(limitsStores.some((store) => store !== 'memory')
      ? { redisUrl: withoutPassword(args['redis-url']) }
      : {}),
  };
  const outName = args.out ?? (isFullRun ? 'latest' : 'partial');
  if (!isPlainName(outName)) fail('--out takes a plain file name (letters, digits, - and _).');

  return {
    adapters,
    databases,
    keyCounts,
    cacheModes,
    routeNames,
    limitsStores,
    cacheChosen: Boolean(args.cache?.length),
    redisUrl: args['redis-url'],
    pgUrl: args['pg-url'],
    settings,
    outName,
    render: args.render,
  };
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

/** Result files are named from the command line: nothing that could leave bench/results/. */
export function isPlainName(name: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(name);
}

/** A URL as reports may show it: without its password. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return fail(`--redis-url must be a redis:// URL, got ${JSON.stringify(url)}.`);
  }
}

/** A usage error: said on stderr, exit status 2. */
export function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
