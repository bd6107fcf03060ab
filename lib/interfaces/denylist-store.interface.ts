/**
 * Where revocations live until the tokens they concern would have expired anyway. Entries are ids:
 * `token:<jti>` for one access token, `key:<keyId>` for every token minted from a key (and the key itself).
 *
 * `has` runs on every authenticated request, so a store answers it from memory and keeps that memory
 * current by itself (the database store polls, the Redis store listens); when it cannot vouch that its
 * answer is current it throws `AuthUnavailableError`, and the request fails closed with 503.
 *
 * Bring your own with the `denylist` option (an instance), or as a provider with dependencies of its own
 * through `forRootAsync` (`inject: [MyStore], useFactory: (store) => ({ denylist: store })`). Inject the
 * store in use with `@InjectDenylistStore()`.
 *
 * @publicApi
 */
export interface DenylistStore {
  /** Loads existing entries and starts keeping them current. Called once at application start. */
  start(): Promise<void>;
  /** Stops timers and closes connections the store opened. */
  stop(): Promise<void>;
  /** Records an entry durably; resolves once every process sharing the store will see it. */
  add(id: string, expiresAtMs: number): Promise<void>;
  /** Whether `id` is denied at `now`; throws `AuthUnavailableError` when the answer may be stale. */
  has(id: string, now: number): boolean;
  /**
   * Whether `has` can vouch for its answers now (a health check reads it). Optional: without it, health
   * checks ask `has` and count `AuthUnavailableError` as stale.
   */
  isCurrent?(): boolean;
}

/** The injection token of the `DenylistStore` in use: `@Inject(DenylistStore)` or `@InjectDenylistStore()`. */
export const DenylistStore: unique symbol = Symbol('DenylistStore');
