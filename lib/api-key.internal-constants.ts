import { DenylistStore } from './interfaces/denylist-store.interface.js';

/** Injection token of the `Repository<ApiKeyEntity>` bound to the configured data source. */
export const API_KEY_REPOSITORY = Symbol('KEYBRIDGE_API_KEY_REPOSITORY');

/** Injection token of the validated, defaults-merged options. */
export const RESOLVED_OPTIONS = Symbol('KEYBRIDGE_RESOLVED_OPTIONS');

/** Injection token of the `DenylistStore` built from the `denylist` option (the public `DenylistStore` token). */
export const DENYLIST_STORE = DenylistStore;

/** Injection token of the module's `RedisConnection`, or `null` without the `redis` option. */
export const REDIS_CONNECTION = Symbol('KEYBRIDGE_REDIS_CONNECTION');

/** Injection token of the `KeyChangeFeed` on the module's Redis, or `null` without the `redis` option. */
export const KEY_CHANGE_FEED = Symbol('KEYBRIDGE_KEY_CHANGE_FEED');

/** Injection token of the `KeyRateLimiter` that counts requests against per-key rate limits. */
export const REQUEST_RATE_LIMITER = Symbol('KEYBRIDGE_REQUEST_RATE_LIMITER');

/** Injection token of the `KeyRateLimiter` that counts token minting, per key and per client address. */
export const TOKEN_RATE_LIMITER = Symbol('KEYBRIDGE_TOKEN_RATE_LIMITER');

/** Injection token of the `FailedAuthThrottle`, or `null` when `failedAuthLimit` is off. */
export const FAILED_AUTH_THROTTLE = Symbol('KEYBRIDGE_FAILED_AUTH_THROTTLE');

/**
 * Injection token of the `ReplayCache` of one-time ids (client assertion and DPoP proof `jti`s): Redis with
 * the `redis` option, else the database.
 */
export const ASSERTION_REPLAY_CACHE = Symbol('KEYBRIDGE_ASSERTION_REPLAY_CACHE');

/** Injection token of the `Repository<SubjectLimitsEntity>` bound to the configured data source. */
export const SUBJECT_LIMITS_REPOSITORY = Symbol('KEYBRIDGE_SUBJECT_LIMITS_REPOSITORY');

/** Injection token of the `QuotaLedger` of keys' quotas. */
export const KEY_QUOTAS = Symbol('KEYBRIDGE_KEY_QUOTAS');

/** Injection token of the `QuotaLedger` of owners' quotas. */
export const OWNER_QUOTAS = Symbol('KEYBRIDGE_OWNER_QUOTAS');
