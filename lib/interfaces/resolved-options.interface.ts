import type { NamedLimit } from './rate-limit.interface.js';
import type { DenylistStore } from './denylist-store.interface.js';
import type { OAuthRoutes } from './api-key-options.interface.js';
import type { KeybridgeEventListener } from './keybridge-event.interface.js';
import type { KeyEnvironment, KeyPrefixes } from './key-prefixes.interface.js';
import type { KeybridgeRedisOptions, RedisDenylistOptions } from './redis-options.interface.js';
import type { SigningKeys } from './signing-key.interface.js';

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
  keys: SigningKeys;
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
  Pick<KeybridgeRedisOptions, 'connection' | 'revocationReplicas'>;

/** The `dpop` option after validation. */
export interface ResolvedDpopOptions {
  nonce: boolean;
  nonceLifetimeMs: number;
  proofMaxAgeMs: number;
}

/** The options after validation, with every default filled in: what the module's collaborators are built from. */
export interface ResolvedApiKeyOptions {
  pepper: string | undefined;
  header: string;
  /** `header` in lower case, as Node stores incoming header names. */
  headerKey: string;
  prefixes: KeyPrefixes;
  defaultEnvironment: KeyEnvironment;
  cache: { ttlMs: number; max: number } | false;
  storeTimeoutMs: number;
  usageFlushMs: number;
  /**
   * `quotaSync`: write-back interval (Redis), units reserved per database lease (memory), and whether quotas
   * are counted in Redis (`exact`, with the `redis` option) or from database leases (`leased`).
   */
  quotaSync: { flushMs: number; lease: number; mode: 'exact' | 'leased' };
  queryKeyParameters: readonly string[];
  trustedProxies: number;
  /** The single default `rateLimit`, when that is how the default was given. */
  rateLimit: ResolvedLimit | undefined;
  /** The default limits of every key without its own: `rateLimit` as `default`, or the named `rateLimits`. */
  rateLimits: readonly NamedLimit[] | undefined;
  /** The lease of `rateLimitMode: 'leased'`; `undefined` in the exact mode. */
  rateLimitLease: number | undefined;
  failedAuthLimit: ResolvedLimit | undefined;
  realm: string;
  /** The `WWW-Authenticate` challenge sent with 401 responses: both schemes when bearer tokens are on. */
  readonly challenge: string;
  /**
   * The challenge of a refusal on a route needing `scopes`: with bearer tokens on, the RFC 6750 `Bearer`
   * challenge first (with `error` and its description when given, the RFC 9728 `resource_metadata` and the
   * route's `scope`), then the `ApiKey` one.
   */
  challengeFor(
    scopes: readonly string[],
    error?: string,
    description?: string,
    resourcePath?: string,
  ): string;
  /** The URL of the RFC 9728 protected resource metadata, when bearer tokens are on. */
  readonly resourceMetadataUrl: string | undefined;
  tokens: ResolvedTokenOptions;
  dpop: ResolvedDpopOptions;
  redis: ResolvedRedisOptions | undefined;
  denylist: ResolvedDenylist;
  routes: OAuthRoutes;
  onEvent: KeybridgeEventListener | undefined;
  clock: () => number;
}
