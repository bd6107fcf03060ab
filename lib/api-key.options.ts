import { Redis } from 'ioredis';
import { DEFAULT_API_KEY_HEADER, DEFAULT_QUERY_KEY_PARAMETERS } from './api-key.constants.js';
import { MAX_TIMER_MS, parseDuration, type Duration } from './common/duration.util.js';
import type { DenylistStore } from './interfaces/denylist-store.interface.js';
import type { RedisDenylistOptions } from './denylist/redis-denylist.store.js';
import { DEFAULT_REDIS_PREFIX, type KeybridgeRedisOptions } from './redis/redis.options.js';
import { InvalidOptionsError } from './errors.js';
import type { KeybridgeEventListener } from './events/keybridge.events.js';
import { DEFAULT_KEY_PREFIXES, isValidPrefix } from './keys/api-key.format.js';
import type { KeyEnvironment, KeyPrefixes } from './interfaces/key-prefixes.interface.js';
import {
  ephemeralKeyRing,
  readSigningKeys,
  type SigningKeyOption,
  type SigningKeyRing,
} from './tokens/signing-key.ring.js';

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
  /**
   * Failed authentications allowed per client address (see `trustedProxies`) before the address is refused
   * with 429 for the rest of the window, without a database read. `false` turns it off. Default
   * `{ limit: 60, window: '1m' }`.
   */
  failedAuthLimit?: false | { limit: number; window: Duration };
  /** `realm` of the `WWW-Authenticate` challenge. Default `'api'`. */
  realm?: string;
  /** Receives audit events (key created/updated/revoked, authentication failed with its reason, …). */
  onEvent?: KeybridgeEventListener;
  /** Time source in milliseconds; tests pass a frozen clock. Default `Date.now`. */
  clock?: () => number;

  /**
   * The `iss` of minted tokens and the base of the endpoint URLs in the authorization-server metadata: the
   * app's public origin, such as `https://api.example.com`. Required when `NODE_ENV=production`.
   */
  issuer?: string;
  /**
   * The audiences tokens may be minted for (`audience` / `resource` parameters) and that bearer tokens must
   * name. The first is used when a client asks for none. Default: the issuer.
   */
  audience?: string | readonly string[];
  /**
   * Token signing keys: one, or a list whose first key signs and whose others only verify (to rotate keys).
   * EdDSA (Ed25519), ES256 or RS256 with a private key; HS256 with a secret of at least 32 bytes. Required
   * when `NODE_ENV=production`; in development a key is generated for the process when none is set.
   */
  signing?: SigningKeyOption | readonly SigningKeyOption[];
  /** Lifetime of minted tokens. Default `'15m'`, at most 24 hours. */
  tokenTtl?: Duration;
  /** Leeway for `exp`, `nbf` and `iat` when verifying tokens. Default `'5s'`, at most 5 minutes. */
  clockTolerance?: Duration;
  /** Verified-token cache, bounded in entries; an entry never outlives its token. `false` turns it off. Default `{ max: 10000 }`. */
  tokenCache?: false | { max?: number };
  /**
   * Redis shared by the instances of the app: `redis://…`, or `{ connection, keyPrefix, onOutage }`. With it,
   * per-key rate limits, token-minting limits and failed-authentication counts are counted in Redis (one
   * limit across all instances), every change to a key is published so each instance drops it from its
   * verified-key cache at once, and the denylist lives there unless `denylist` says otherwise.
   */
  redis?: string | KeybridgeRedisOptions;
  /**
   * Where revocations are kept: `'memory'` (one process, lost on restart), `'database'` (the app's database,
   * polled every `denylistPollInterval`), `'redis'` (the `redis` option's server, pushed by pub/sub),
   * `{ redis, keyPrefix? }` (a Redis of its own), or your own `DenylistStore`. Default `'redis'` when the
   * `redis` option is set, else `'database'`.
   */
  denylist?: 'memory' | 'database' | 'redis' | RedisDenylistOptions | DenylistStore;
  /** How often the database denylist reads new revocations. Default `'1s'`. */
  denylistPollInterval?: Duration;
  /**
   * Limits on token minting, per key and per client address; `false` turns one off. Default
   * `{ perKey: { limit: 60, window: '1m' }, perAddress: { limit: 300, window: '1m' } }`.
   */
  tokenRateLimit?: {
    perKey?: false | { limit: number; window: Duration };
    perAddress?: false | { limit: number; window: Duration };
  };
}

/** The paths of the OAuth endpoints the module mounts. */
export interface OAuthRoutes {
  token: string;
  revocation: string;
  introspection: string;
  jwks: string;
  metadata: string;
}

export const DEFAULT_OAUTH_ROUTES: Readonly<OAuthRoutes> = Object.freeze({
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  jwks: '/.well-known/jwks.json',
  metadata: '/.well-known/oauth-authorization-server',
});

/** Options known when the module is defined, so they also apply to `forRootAsync`. */
export interface ApiKeyModuleExtras {
  /** Make `ApiKeyService` and the guards injectable everywhere. Default true. */
  isGlobal?: boolean;
  /** Register the guard for every route; opt routes out with `@Public()`. Default false. */
  globalGuard?: boolean;
  /** Name of the TypeORM data source holding the keys, for apps with several. Default the default one. */
  dataSource?: string;
  /**
   * The OAuth 2.0 endpoints and bearer tokens: paths to change, or `false` for API keys only (no token
   * endpoint, no bearer tokens, no signing key needed). Default the paths of `DEFAULT_OAUTH_ROUTES`.
   */
  oauth?: false | Partial<OAuthRoutes>;
}

/** A limit of `limit` events per `windowSeconds`. */
export interface ResolvedLimit {
  limit: number;
  windowSeconds: number;
}

/** The token settings after validation. */
export interface ResolvedTokenOptions {
  /** False when the module was set up with `oauth: false`. */
  enabled: boolean;
  issuer: string;
  audiences: readonly string[];
  keys: SigningKeyRing;
  ttlMs: number;
  clockToleranceMs: number;
  cacheMax: number;
  perKeyLimit: ResolvedLimit | undefined;
  perAddressLimit: ResolvedLimit | undefined;
}

export type ResolvedDenylist =
  | { kind: 'memory' }
  | { kind: 'database'; pollMs: number }
  /** Without `options`, on the module's `redis` connection. */
  | { kind: 'redis'; options?: RedisDenylistOptions }
  | { kind: 'custom'; store: DenylistStore };

/** The `redis` option after validation. */
export type ResolvedRedisOptions = Required<Pick<KeybridgeRedisOptions, 'keyPrefix' | 'onOutage'>> &
  Pick<KeybridgeRedisOptions, 'connection'>;

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
  rateLimit: ResolvedLimit | undefined = undefined;
  failedAuthLimit: ResolvedLimit | undefined = { limit: 60, windowSeconds: 60 };
  realm = 'api';
  /** The `WWW-Authenticate` challenge sent with 401 responses: both schemes when bearer tokens are on. */
  get challenge(): string {
    const apiKey = `ApiKey realm="${this.realm}", header="${this.header}"`;
    return this.tokens.enabled ? `${apiKey}, Bearer realm="${this.realm}"` : apiKey;
  }
  tokens: ResolvedTokenOptions = {
    enabled: false,
    issuer: 'http://localhost',
    audiences: ['http://localhost'],
    keys: undefined as unknown as SigningKeyRing,
    ttlMs: 15 * 60_000,
    clockToleranceMs: 5000,
    cacheMax: 10_000,
    perKeyLimit: { limit: 60, windowSeconds: 60 },
    perAddressLimit: { limit: 300, windowSeconds: 60 },
  };
  redis: ResolvedRedisOptions | undefined = undefined;
  denylist: ResolvedDenylist = { kind: 'database', pollMs: 1000 };
  routes: OAuthRoutes = { ...DEFAULT_OAUTH_ROUTES };
  onEvent: KeybridgeEventListener | undefined = undefined;
  clock: () => number = Date.now;
}

/** An HTTP token without `.`: passport-headerapikey reads the header through a dotted-path lookup. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+^_`|~-]+$/;
const MIN_PEPPER_LENGTH = 32;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The longest `tokenTtl` accepted. */
export const MAX_TOKEN_LIFETIME_MS = DAY_MS;

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

/** `{ limit, window }` as a resolved limit, or a recorded problem. */
function limitOption(
  problems: string[],
  name: string,
  value: { limit: number; window: Duration } | undefined,
): ResolvedLimit | undefined {
  if (value === undefined) return undefined;
  const { limit, window } = value ?? {};
  const limitOk = Number.isInteger(limit) && limit >= 1;
  if (!limitOk) problems.push(`${name}.limit must be a positive integer.`);
  const windowMs = durationOption(
    problems,
    `${name}.window`,
    window ?? 'missing',
    1000,
    366 * DAY_MS,
    '"1m"',
  );
  return windowMs !== undefined && limitOk
    ? { limit, windowSeconds: Math.round(windowMs / 1000) }
    : undefined;
}

function isUrl(value: unknown, requireHttps: boolean): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    if (url.search || url.hash || url.username || url.password) return false;
    return url.protocol === 'https:' || (!requireHttps && url.protocol === 'http:');
  } catch {
    return false;
  }
}

/** Checks the token settings; `enabled` is false when the module was set up with `oauth: false`. */
function resolveTokens(
  options: ApiKeyModuleOptions,
  resolved: ResolvedApiKeyOptions,
  problems: string[],
  production: boolean,
  enabled: boolean,
): void {
  const tokens = resolved.tokens;
  tokens.enabled = enabled;
  if (options.issuer !== undefined) {
    if (!isUrl(options.issuer, production)) {
      problems.push(
        `issuer must be an ${production ? 'https' : 'http(s)'} URL without query, fragment or credentials, such as "https://api.example.com".`,
      );
    } else tokens.issuer = options.issuer.replace(/\/+$/, '');
  } else if (production && enabled) {
    problems.push(
      'issuer is required when NODE_ENV=production: the public URL of the API, such as "https://api.example.com".',
    );
  }
  if (options.audience !== undefined) {
    const list = typeof options.audience === 'string' ? [options.audience] : options.audience;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((a) => typeof a !== 'string' || a === '' || a.length > 500)
    ) {
      problems.push('audience must be a non-empty string or a non-empty list of them.');
    } else tokens.audiences = [...new Set(list as string[])];
  } else tokens.audiences = [tokens.issuer];

  if (options.signing !== undefined) {
    const ring = readSigningKeys(options.signing, problems);
    if (ring) tokens.keys = ring;
  } else if (production && enabled) {
    problems.push(
      'signing is required when NODE_ENV=production: an Ed25519, P-256 or RSA private key (or an HS256 secret), kept stable, since changing it invalidates every token.',
    );
  }
  tokens.keys ??= ephemeralKeyRing();

  tokens.ttlMs =
    durationOption(problems, 'tokenTtl', options.tokenTtl, 10_000, MAX_TOKEN_LIFETIME_MS, '"15m"') ??
    tokens.ttlMs;
  tokens.clockToleranceMs =
    durationOption(problems, 'clockTolerance', options.clockTolerance, 0, 5 * 60_000, '"5s"') ??
    tokens.clockToleranceMs;

  if (options.tokenCache === false) tokens.cacheMax = 0;
  else if (options.tokenCache !== undefined) {
    const max = options.tokenCache.max ?? tokens.cacheMax;
    if (!Number.isInteger(max) || max < 1) problems.push('tokenCache.max must be a positive integer.');
    else tokens.cacheMax = max;
  }

  const limits = options.tokenRateLimit;
  if (limits !== undefined) {
    if (limits === null || typeof limits !== 'object') {
      problems.push('tokenRateLimit must be an object with perKey and/or perAddress.');
    } else {
      if (limits.perKey !== undefined)
        tokens.perKeyLimit =
          limits.perKey === false ? undefined : limitOption(problems, 'tokenRateLimit.perKey', limits.perKey);
      if (limits.perAddress !== undefined)
        tokens.perAddressLimit =
          limits.perAddress === false
            ? undefined
            : limitOption(problems, 'tokenRateLimit.perAddress', limits.perAddress);
    }
  }
}

/**
 * A `redis://` URL, ioredis options (a plain object) or an ioredis `Redis` client of this package's ioredis.
 * Anything else (a `Cluster`, a client of another copy of ioredis) would be read as options and quietly
 * connect to localhost instead.
 */
function isRedisConnection(value: unknown): boolean {
  if (typeof value === 'string') return /^rediss?:\/\/./.test(value);
  if (value instanceof Redis) return true;
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

const REDIS_CONNECTION_HELP =
  "a redis:// URL, ioredis options, or an ioredis Redis client made with this app's ioredis (a Cluster is not supported)";

function resolveRedis(
  options: ApiKeyModuleOptions,
  resolved: ResolvedApiKeyOptions,
  problems: string[],
): void {
  const option = options.redis;
  if (option === undefined) return;
  const {
    connection,
    keyPrefix = DEFAULT_REDIS_PREFIX,
    onOutage = 'fail-closed',
  } = typeof option === 'string' ? { connection: option } : ((option ?? {}) as KeybridgeRedisOptions);
  const before = problems.length;
  if (!isRedisConnection(connection)) {
    problems.push(
      `redis must be a redis:// URL, or { connection, keyPrefix?, onOutage? } whose connection is ${REDIS_CONNECTION_HELP}.`,
    );
  }
  if (typeof keyPrefix !== 'string' || keyPrefix.length > 100) {
    problems.push('redis.keyPrefix must be a string of at most 100 characters.');
  }
  if (onOutage !== 'fail-closed' && onOutage !== 'local') {
    problems.push(`redis.onOutage must be 'fail-closed' or 'local'.`);
  }
  if (problems.length === before) resolved.redis = { connection, keyPrefix, onOutage };
}

function resolveDenylist(
  options: ApiKeyModuleOptions,
  resolved: ResolvedApiKeyOptions,
  problems: string[],
): void {
  const pollMs =
    durationOption(problems, 'denylistPollInterval', options.denylistPollInterval, 50, 60_000, '"1s"') ??
    1000;
  const option = options.denylist ?? (options.redis !== undefined ? 'redis' : 'database');
  if (option === 'database') resolved.denylist = { kind: 'database', pollMs };
  else if (option === 'memory') resolved.denylist = { kind: 'memory' };
  else if (option === 'redis') {
    if (options.redis === undefined) {
      problems.push(`denylist 'redis' uses the redis option: set redis to the server's URL.`);
    } else resolved.denylist = { kind: 'redis' };
  } else if (typeof option === 'object' && option !== null && 'redis' in option) {
    if (!isRedisConnection(option.redis)) {
      problems.push(`denylist.redis must be ${REDIS_CONNECTION_HELP}.`);
    } else if (option.keyPrefix !== undefined && typeof option.keyPrefix !== 'string') {
      problems.push('denylist.keyPrefix must be a string.');
    } else resolved.denylist = { kind: 'redis', options: option };
  } else if (
    typeof option === 'object' &&
    option !== null &&
    ['start', 'stop', 'add', 'has'].every(
      (m) => typeof (option as unknown as Record<string, unknown>)[m] === 'function',
    )
  ) {
    resolved.denylist = { kind: 'custom', store: option as DenylistStore };
  } else {
    problems.push(`denylist must be 'memory', 'database', 'redis', { redis: url } or a DenylistStore.`);
  }
}

function resolveRoutes(
  routes: ApiKeyModuleExtras['oauth'],
  resolved: ResolvedApiKeyOptions,
  problems: string[],
): void {
  if (!routes) return;
  for (const name of Object.keys(DEFAULT_OAUTH_ROUTES) as (keyof OAuthRoutes)[]) {
    const path = routes[name];
    if (path === undefined) continue;
    if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~/-]*$/.test(path)) {
      problems.push(`oauth.${name} must be a path starting with "/", got ${JSON.stringify(path)}.`);
    } else resolved.routes[name] = path;
  }
}

/** Validates user options and merges the defaults; throws one error that lists every problem found. */
export function resolveOptions(
  options: ApiKeyModuleOptions = {},
  env: NodeJS.ProcessEnv = process.env,
  oauth: ApiKeyModuleExtras['oauth'] = {},
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

  if (options.rateLimit !== undefined)
    resolved.rateLimit = limitOption(problems, 'rateLimit', options.rateLimit);
  if (options.failedAuthLimit !== undefined) {
    resolved.failedAuthLimit =
      options.failedAuthLimit === false
        ? undefined
        : limitOption(problems, 'failedAuthLimit', options.failedAuthLimit);
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

  const production = env.NODE_ENV === 'production';
  resolveTokens(options, resolved, problems, production, oauth !== false);
  resolveRedis(options, resolved, problems);
  resolveDenylist(options, resolved, problems);
  resolveRoutes(oauth, resolved, problems);

  if (problems.length > 0) throw new InvalidOptionsError(problems);
  return resolved;
}
