/**
 * What the benchmark driver measures and reports: the shapes of its samples, results and reports, and the
 * constants that both the measuring and the reporting side read, so the two cannot disagree.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterName, CacheMode, DatabaseName, LimitsStore, RouteName } from './bench.config.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS_DIR = join(ROOT, 'bench', 'results');
export const MANY_KEYS = 100_000;
export const WARM_TARGET = 0.9;
/** Tokens the endpoint should mint and sign per second (EdDSA). */
export const TOKEN_TARGET = 2000;
/** How each route is named in reports. */
export const ROUTE_LABELS: Record<RouteName, string> = {
  apikey: 'API key',
  bearer: 'Bearer JWT',
  token: 'token endpoint',
  limited: 'rate-limited key',
  dpop: 'DPoP-bound JWT',
  quota: 'quota key',
};
/** How each store of rate-limit counters is named in reports. */
export const LIMITS_LABELS: Record<LimitsStore, string> = {
  memory: 'memory',
  redis: 'Redis',
  leased: 'Redis, leased',
};
/** How far the 100,000-key ratio may fall below the 1-key ratio and still count as "costs no more". */
export const KEY_COUNT_TOLERANCE = 0.05;
export const SEED_BUDGET_MS = 60_000;
/**
 * A round during which other processes used more CPU than this (in cores) is repeated, within the retry
 * budget: on a shared 2-core machine a busy neighbour moves req/s by ±40 % and would swamp the guard's cost.
 */
export const QUIET_LIMIT_CORES = 0.25;

export interface Settings {
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

export interface RunSample {
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

export interface RouteSummary {
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
export interface ConfigResult {
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

export interface SeedResult {
  db: DatabaseName;
  keys: number;
  /** Rows stored, when more than `keys` (the rate-limited key on top of a single load key). */
  storedKeys?: number;
  seedMs: number;
  bulkInsertMs: number;
}

export interface Report {
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
