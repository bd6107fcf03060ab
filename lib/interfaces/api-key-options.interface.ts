import type { Duration } from '../common/duration.util.js';
import type { RateLimitSetting, RateLimitSettings } from './rate-limit.interface.js';
import type { DenylistStore } from './denylist-store.interface.js';
import type { KeybridgeEventListener } from './keybridge-event.interface.js';
import type { KeyEnvironment, KeyPrefixes } from './key-prefixes.interface.js';
import type { KeybridgeRedisOptions, RedisDenylistOptions } from './redis-options.interface.js';
import type { SigningKeyOption } from './signing-key.interface.js';

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
  /**
   * Quotas are counted in Redis (with `redis`) or in memory, not with a database write per request. With
   * Redis, the units spent are written back to the key rows every `flushInterval` (default `'1s'`), one
   * UPDATE per key. Without it, each instance reserves `lease` units at a time from the key row (default 100)
   * and gives back what it did not spend on shutdown. `mode: 'leased'` counts from those leases even with
   * Redis, so a request spends no Redis round trip on its quota (default `'exact'`: the Redis counter).
   */
  quotaSync?: { flushInterval?: Duration; lease?: number; mode?: 'exact' | 'leased' };
  /** How long one key-store query may take before the request fails closed with 503. Default `'2s'`. */
  storeTimeout?: Duration;
  /** Query parameters refused with 400 on guarded routes. Default `['api_key', 'apiKey', 'key']`; `[]` turns it off. */
  queryKeyParameters?: readonly string[];
  /**
   * Number of reverse proxies in front of the app whose `X-Forwarded-For` entry is trusted. The client address
   * is the entry that many hops from the right. Default 0: the socket address, headers ignored.
   */
  trustedProxies?: number;
  /** Default rate limit for every key without its own (named `default`). Default none. */
  rateLimit?: RateLimitSetting;
  /**
   * Default named rate limits for every key without its own, all applied, in place of `rateLimit`:
   * `{ burst: { limit: 10, window: '1s' }, sustained: { limit: 1000, window: '1h' } }`.
   */
  rateLimits?: RateLimitSettings;
  /**
   * `'exact'` (default): every limited request is one atomic check in Redis. `'leased'`: each instance reserves
   * blocks of `rateLimitLease` units in Redis and admits from them locally, so most requests need no round
   * trip; in any window a limit then admits at most `limit + instances × rateLimitLease`. Needs `redis`.
   */
  rateLimitMode?: 'exact' | 'leased';
  /** Units per block in the leased mode. Default 10. */
  rateLimitLease?: number;
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
  /** DPoP (RFC 9449) proofs at the token endpoint and on guarded routes; see `DpopOptions`. */
  dpop?: DpopOptions;
}

/** DPoP (RFC 9449) settings. DPoP is always accepted when bearer tokens are on; these tune it. */
export interface DpopOptions {
  /**
   * Require a server nonce in every proof (RFC 9449 §8, §9): a proof without a current one is answered
   * `use_dpop_nonce` with a fresh `DPoP-Nonce`. Nonces are derived from the signing key and the time, so
   * every instance with the same signing key accepts the others' nonces without shared state. Default false.
   */
  nonce?: boolean;
  /** How long a nonce is current; the previous one is still accepted. Default `'5m'`, between 10 s and 1 h. */
  nonceLifetime?: Duration;
  /** How old a proof's `iat` may be (plus `clockTolerance` either way). Default `'60s'`, at most 5 minutes. */
  proofMaxAge?: Duration;
}

/** The paths of the OAuth endpoints the module mounts. */
export interface OAuthRoutes {
  token: string;
  revocation: string;
  introspection: string;
  jwks: string;
  metadata: string;
  /** RFC 9728 protected resource metadata; the path-suffixed form is served under it. */
  protectedResource: string;
  /** The authorization endpoint, which supports no response type (see the README). */
  authorization: string;
}

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
