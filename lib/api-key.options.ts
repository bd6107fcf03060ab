import { DEFAULT_API_KEY_HEADER, DEFAULT_QUERY_KEY_PARAMETERS } from './api-key.constants.js';
import { MAX_TIMER_MS, parseDuration, type Duration } from './duration.util.js';
import { InvalidOptionsError } from './errors.js';
import type { KeybridgeEventListener } from './events/keybridge.events.js';
import {
  DEFAULT_KEY_PREFIXES,
  isValidPrefix,
  type KeyEnvironment,
  type KeyPrefixes,
} from './keys/api-key.format.js';

/** What `ApiKeyModule.forRoot()` / `forRootAsync()` accept. Every field is optional. */
export interface ApiKeyModuleOptions {
  /**
   * Server secret mixed into every stored key hash (HMAC-SHA-256). At least 32 characters. Required when
   * `NODE_ENV=production`; without it keys are stored as plain SHA-256.
   */
  pepper?: string;
  /** Request header that carries the key. Default `X-API-Key`. */
  header?: string;
  /** Key type prefixes. Default `{ live: 'kb_live_', test: 'kb_test_' }`. */
  prefixes?: Partial<KeyPrefixes>;
  /** Environment of keys created without one. Default `'live'`. */
  defaultEnvironment?: KeyEnvironment;
  /**
   * The verified-key cache that keeps the hot path off the database. Entries are dropped at once on revoke,
   * update or rotation in this process; `ttl` bounds how long a change made elsewhere (another instance, the
   * CLI) can go unseen. `false` turns it off. Default `{ ttl: '5s', max: 10000 }`.
   */
  cache?: false | { ttl?: Duration; max?: number };
  /** How often `lastUsedAt` and usage counts are written, in one batch. Default `'5s'`. */
  usageFlushInterval?: Duration;
  /** How long one key-store query may take before the request fails closed with 503. Default `'2s'`. */
  storeTimeout?: Duration;
  /** Query parameters refused with 400 on guarded routes. Default `['api_key', 'apiKey', 'key']`; `[]` turns it off. */
  queryKeyParameters?: readonly string[];
  /**
   * Number of reverse proxies in front of the app whose `X-Forwarded-For` entry is trusted. The client address
   * is the entry that many hops from the right. Default 0: the socket address, headers ignored.
   */
  trustedProxies?: number;
  /** Default rate limit for every key without its own. Default none. */
  rateLimit?: { limit: number; window: Duration };
  /** `realm` of the `WWW-Authenticate` challenge. Default `'api'`. */
  realm?: string;
  /** Receives audit events (key created/updated/revoked, authentication failed with its reason, …). */
  onEvent?: KeybridgeEventListener;
  /** Time source in milliseconds; tests pass a frozen clock. Default `Date.now`. */
  clock?: () => number;
}

/** Options known when the module is defined, so they also apply to `forRootAsync`. */
export interface ApiKeyModuleExtras {
  /** Make `ApiKeyService` and the guards injectable everywhere. Default true. */
  isGlobal?: boolean;
  /** Register the guard for every route; opt routes out with `@Public()`. Default false. */
  globalGuard?: boolean;
  /** Name of the TypeORM data source holding the keys, for apps with several. Default the default one. */
  dataSource?: string;
}

/** The options after validation, with every default filled in. */
export class ResolvedApiKeyOptions {
  pepper: string | undefined = undefined;
  header = DEFAULT_API_KEY_HEADER;
  /** `header` in lower case, as Node stores incoming header names. */
  headerKey = DEFAULT_API_KEY_HEADER.toLowerCase();
  prefixes: KeyPrefixes = { ...DEFAULT_KEY_PREFIXES };
  defaultEnvironment: KeyEnvironment = 'live';
  cache: { ttlMs: number; max: number } | false = { ttlMs: 5000, max: 10_000 };
  storeTimeoutMs = 2000;
  usageFlushMs = 5000;
  queryKeyParameters: readonly string[] = DEFAULT_QUERY_KEY_PARAMETERS;
  trustedProxies = 0;
  rateLimit: { limit: number; windowSeconds: number } | undefined = undefined;
  realm = 'api';
  /** The `WWW-Authenticate` challenge sent with 401 responses. */
  get challenge(): string {
    return `ApiKey realm="${this.realm}", header="${this.header}"`;
  }
  onEvent: KeybridgeEventListener | undefined = undefined;
  clock: () => number = Date.now;
}

/** An HTTP token without `.`: passport-headerapikey reads the header through a dotted-path lookup. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+^_`|~-]+$/;
const MIN_PEPPER_LENGTH = 32;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * Milliseconds of an optional duration option within `[minMs, maxMs]`; records a problem and returns
 * `undefined` when it is set but out of range (timers cannot wait longer than about 24.8 days).
 */
function durationOption(
  problems: string[],
  name: string,
  value: Duration | undefined,
  minMs: number,
  maxMs: number,
  example: string,
): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms < minMs || ms > Math.min(maxMs, MAX_TIMER_MS)) {
    problems.push(
      `${name} must be a duration from ${minMs} ms to ${Math.min(maxMs, MAX_TIMER_MS) / 1000} s, such as ${example}.`,
    );
    return undefined;
  }
  return ms;
}

/** Validates user options and merges the defaults; throws one error that lists every problem found. */
export function resolveOptions(
  options: ApiKeyModuleOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedApiKeyOptions {
  const resolved = new ResolvedApiKeyOptions();
  const problems: string[] = [];

  if (options.pepper !== undefined && options.pepper !== '') {
    if (typeof options.pepper !== 'string' || options.pepper.length < MIN_PEPPER_LENGTH) {
      problems.push(
        `pepper must be a string of at least ${MIN_PEPPER_LENGTH} characters; generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
      );
    } else {
      resolved.pepper = options.pepper;
    }
  } else if (env.NODE_ENV === 'production') {
    problems.push(
      'pepper is required when NODE_ENV=production: set it (for example from KEYBRIDGE_PEPPER) to a random secret of at least 32 characters, and keep it stable, since changing it invalidates every key.',
    );
  }

  if (options.header !== undefined) {
    if (typeof options.header !== 'string' || !HEADER_NAME.test(options.header)) {
      problems.push(`header must be a valid HTTP header name, got ${JSON.stringify(options.header)}.`);
    } else {
      resolved.header = options.header;
      resolved.headerKey = options.header.toLowerCase();
    }
  }

  const prefixes: KeyPrefixes = {
    live: options.prefixes?.live ?? DEFAULT_KEY_PREFIXES.live,
    test: options.prefixes?.test ?? DEFAULT_KEY_PREFIXES.test,
  };
  const badPrefixes = (['live', 'test'] as const).filter((env) => !isValidPrefix(prefixes[env]));
  for (const env of badPrefixes) {
    problems.push(
      `prefixes.${env} must be lower-case letters and digits in "_"-separated words ending in "_" (like "kb_live_"), got ${JSON.stringify(prefixes[env])}.`,
    );
  }
  if (badPrefixes.length === 0) {
    if (prefixes.live.startsWith(prefixes.test) || prefixes.test.startsWith(prefixes.live)) {
      problems.push('prefixes.live and prefixes.test must differ, and neither may start with the other.');
    }
    resolved.prefixes = prefixes;
  }

  if (options.defaultEnvironment !== undefined) {
    if (options.defaultEnvironment !== 'live' && options.defaultEnvironment !== 'test') {
      problems.push(`defaultEnvironment must be "live" or "test".`);
    } else resolved.defaultEnvironment = options.defaultEnvironment;
  }

  if (options.cache === false) {
    resolved.cache = false;
  } else if (options.cache !== undefined) {
    const ttlMs = durationOption(problems, 'cache.ttl', options.cache.ttl, 1, HOUR_MS, '"5s"') ?? 5000;
    const max = options.cache.max ?? 10_000;
    if (!Number.isInteger(max) || max < 1) problems.push('cache.max must be a positive integer.');
    resolved.cache = { ttlMs, max };
  }

  resolved.storeTimeoutMs =
    durationOption(problems, 'storeTimeout', options.storeTimeout, 1, 60_000, '"2s"') ??
    resolved.storeTimeoutMs;
  resolved.usageFlushMs =
    durationOption(problems, 'usageFlushInterval', options.usageFlushInterval, 100, HOUR_MS, '"5s"') ??
    resolved.usageFlushMs;

  if (options.queryKeyParameters !== undefined) {
    if (
      !Array.isArray(options.queryKeyParameters) ||
      options.queryKeyParameters.some((p) => typeof p !== 'string')
    ) {
      problems.push('queryKeyParameters must be an array of parameter names.');
    } else resolved.queryKeyParameters = [...options.queryKeyParameters];
  }

  if (options.trustedProxies !== undefined) {
    if (!Number.isInteger(options.trustedProxies) || options.trustedProxies < 0) {
      problems.push('trustedProxies must be a whole number of proxy hops (0 when clients connect directly).');
    } else resolved.trustedProxies = options.trustedProxies;
  }

  if (options.rateLimit !== undefined) {
    const { limit, window } = options.rateLimit ?? {};
    if (!Number.isInteger(limit) || limit < 1) problems.push('rateLimit.limit must be a positive integer.');
    const windowMs = durationOption(
      problems,
      'rateLimit.window',
      window ?? 'missing',
      1000,
      366 * DAY_MS,
      '"1m"',
    );
    if (windowMs !== undefined && Number.isInteger(limit) && limit >= 1) {
      resolved.rateLimit = { limit, windowSeconds: Math.round(windowMs / 1000) };
    }
  }

  if (options.realm !== undefined) {
    if (
      typeof options.realm !== 'string' ||
      !/^[\x20-\x7e]*$/.test(options.realm) ||
      options.realm.includes('"')
    ) {
      problems.push('realm must be printable ASCII without double quotes.');
    } else resolved.realm = options.realm;
  }

  if (options.onEvent !== undefined) {
    if (typeof options.onEvent !== 'function') problems.push('onEvent must be a function.');
    else resolved.onEvent = options.onEvent;
  }

  if (options.clock !== undefined) {
    if (typeof options.clock !== 'function')
      problems.push('clock must be a function returning milliseconds.');
    else resolved.clock = options.clock;
  }

  if (problems.length > 0) throw new InvalidOptionsError(problems);
  return resolved;
}
