import type { Duration } from '../common/duration.util.js';
import type { LimitScope } from '../errors/index.js';

/**
 * How a limit counts. `sliding` (the default): an exact sliding window: the whole limit may be spent at once,
 * and no interval of the window ever holds more than `limit`. `smooth`: GCRA without burst: one unit every
 * `window / limit`, a first burst refused.
 *
 * @publicApi
 */
export type LimitPolicy = 'sliding' | 'smooth';

export type { LimitScope };

/**
 * A rate limit as options and key settings give it: at most `limit` units of cost per `window`.
 *
 * @publicApi
 */
export interface RateLimitSetting {
  limit: number;
  window: Duration;
  /** Default `'sliding'`. */
  policy?: LimitPolicy;
}

/**
 * Several named limits, all applied: `{ burst: { limit: 10, window: '1s' }, sustained: { limit: 1000, window: '1h' } }`.
 * Names are 1–32 letters, digits, `_` or `-`, starting with a letter.
 *
 * @publicApi
 */
export type RateLimitSettings = Record<string, RateLimitSetting>;

/** One resolved named limit: at most `limit` units of cost in any interval of `windowSeconds`. */
export interface NamedLimit {
  /** `default` for the single `rateLimit`; the name given in `rateLimits` otherwise. */
  name: string;
  limit: number;
  windowSeconds: number;
  policy: LimitPolicy;
}
