import { DEFAULT_LIMIT_NAME, LIMIT_NAME_PATTERN } from '../api-key.constants.js';
import { MAX_TIMER_MS, parseDuration } from '../common/duration.util.js';
import { InvalidArgumentError } from '../errors/index.js';
import type { NamedLimit } from '../interfaces/rate-limit.interface.js';
import type { KeyNamedRateLimits, KeyRateLimit } from './api-key.entity.js';

/** Counters live in 32-bit integer columns. */
const MAX_LIMIT = 2_147_483_647;
/** Named limits one key may carry: each is one more sorted set touched per request. */
const MAX_NAMED_LIMITS = 8;

type StoredLimits = KeyRateLimit | KeyNamedRateLimits | null;

/** The limits stored on a key, named; `null` when it has none of its own (the module default applies). */
export function namedLimitsOf(stored: StoredLimits): NamedLimit[] | null {
  if (!stored) return null;
  if ('limits' in stored) {
    return Object.entries(stored.limits).map(([name, limit]) => namedLimit(name, limit));
  }
  return [namedLimit(DEFAULT_LIMIT_NAME, stored)];
}

function namedLimit(name: string, { limit, windowSeconds, policy }: KeyRateLimit): NamedLimit {
  return { name, limit, windowSeconds, policy: policy ?? 'sliding' };
}

/** How a key's limits read in its view: the single one as `rateLimit`, named ones as `rateLimits`. */
export function limitsView(stored: StoredLimits): {
  rateLimit: KeyRateLimit | null;
  rateLimits: Record<string, KeyRateLimit> | null;
} {
  if (stored && 'limits' in stored) return { rateLimit: null, rateLimits: stored.limits };
  return { rateLimit: stored, rateLimits: null };
}

/** `{ limit, window, policy? }` (or `null`) as stored; `field` names it in the error. */
export function validateRateLimit(value: unknown, field = 'rateLimit'): KeyRateLimit | null {
  if (value === null) return null;
  const { limit, window, policy } = (value ?? {}) as { limit?: unknown; window?: unknown; policy?: unknown };
  const windowMs = parseDuration(window as string);
  if (
    !Number.isInteger(limit) ||
    (limit as number) < 1 ||
    (limit as number) > MAX_LIMIT ||
    windowMs === undefined ||
    windowMs < 1000 ||
    windowMs > MAX_TIMER_MS ||
    (policy !== undefined && policy !== 'sliding' && policy !== 'smooth')
  ) {
    throw new InvalidArgumentError(
      `${field} must be { limit: whole number from 1 to ${MAX_LIMIT}, window: duration from "1s" to "24d", ` +
        `policy?: "sliding" | "smooth" } or null.`,
    );
  }
  const stored: KeyRateLimit = { limit: limit as number, windowSeconds: Math.round(windowMs / 1000) };
  if (policy === 'smooth') stored.policy = 'smooth';
  return stored;
}

/** `{ <name>: { limit, window, policy? }, … }` (or `null`) as stored. */
export function validateRateLimits(value: unknown): KeyNamedRateLimits | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError('rateLimits must be an object of named limits, or null.');
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return null;
  if (entries.length > MAX_NAMED_LIMITS) {
    throw new InvalidArgumentError(`rateLimits holds at most ${MAX_NAMED_LIMITS} limits.`);
  }
  const limits: Record<string, KeyRateLimit> = {};
  for (const [name, limit] of entries) {
    if (!LIMIT_NAME_PATTERN.test(name)) {
      throw new InvalidArgumentError(
        `rateLimits name ${JSON.stringify(name.slice(0, 40))} must be 1–32 letters, digits, _ or -, starting with a letter.`,
      );
    }
    const stored = validateRateLimit(limit, `rateLimits.${name}`);
    if (stored === null) throw new InvalidArgumentError(`rateLimits.${name} must be a limit, not null.`);
    limits[name] = stored;
  }
  return { limits };
}
