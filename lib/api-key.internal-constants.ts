/** Injection token of the `Repository<ApiKeyEntity>` bound to the configured data source. */
export const API_KEY_REPOSITORY = Symbol('KEYBRIDGE_API_KEY_REPOSITORY');

/** Injection token of the validated, defaults-merged options. */
export const RESOLVED_OPTIONS = Symbol('KEYBRIDGE_RESOLVED_OPTIONS');

/** Injection token of the `DenylistStore` built from the `denylist` option. */
export const DENYLIST_STORE = Symbol('KEYBRIDGE_DENYLIST_STORE');

/** Injection token of the module's `RedisConnection`, or `null` without the `redis` option. */
export const REDIS_CONNECTION = Symbol('KEYBRIDGE_REDIS_CONNECTION');
