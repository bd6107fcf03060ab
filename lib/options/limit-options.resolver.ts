import { DEFAULT_LIMIT_NAME, LIMIT_NAME_PATTERN } from '../api-key.constants.js';
import type { ApiKeyModuleOptions } from '../interfaces/api-key-options.interface.js';
import type { NamedLimit, RateLimitSetting } from '../interfaces/rate-limit.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { limitOption } from './option.parsers.js';

/** The largest lease: a block is what each instance may admit beyond the limit. */
const MAX_LEASE = 10_000;

/**
 * `rateLimit` / `rateLimits` (the default limits of every key without its own), `rateLimitMode` and
 * `rateLimitLease`, onto `resolved`; problems are recorded.
 */
export function resolveRateLimits(
  options: ApiKeyModuleOptions,
  resolved: ResolvedApiKeyOptions,
  problems: string[],
): void {
  if (options.rateLimit !== undefined && options.rateLimits !== undefined) {
    problems.push('Give rateLimit or rateLimits, not both.');
  }
  if (options.rateLimit !== undefined) {
    const limit = namedOption(problems, 'rateLimit', DEFAULT_LIMIT_NAME, options.rateLimit);
    if (limit) {
      resolved.rateLimit = { limit: limit.limit, windowSeconds: limit.windowSeconds };
      resolved.rateLimits = [limit];
    }
  }
  if (options.rateLimits !== undefined) {
    const entries =
      options.rateLimits && typeof options.rateLimits === 'object' ? Object.entries(options.rateLimits) : [];
    if (entries.length === 0) problems.push('rateLimits must be an object of one or more named limits.');
    const limits: NamedLimit[] = [];
    for (const [name, setting] of entries) {
      if (!LIMIT_NAME_PATTERN.test(name)) {
        problems.push(
          `rateLimits name "${name}" must be 1–32 letters, digits, _ or -, starting with a letter.`,
        );
        continue;
      }
      const limit = namedOption(problems, `rateLimits.${name}`, name, setting);
      if (limit) limits.push(limit);
    }
    if (limits.length > 0) resolved.rateLimits = limits;
  }
  const mode = options.rateLimitMode;
  if (mode !== undefined && mode !== 'exact' && mode !== 'leased') {
    problems.push(`rateLimitMode must be 'exact' or 'leased'.`);
  }
  const lease = options.rateLimitLease;
  if (lease !== undefined && (!Number.isInteger(lease) || lease < 1 || lease > MAX_LEASE)) {
    problems.push(`rateLimitLease must be a whole number of units from 1 to ${MAX_LEASE}.`);
  }
  if (mode === 'leased') {
    if (!options.redis) problems.push(`rateLimitMode 'leased' needs the redis option: it leases from Redis.`);
    resolved.rateLimitLease = lease ?? DEFAULT_LEASE;
  }
}

/** The lease of `rateLimitMode: 'leased'` without `rateLimitLease`. */
export const DEFAULT_LEASE = 10;

function namedOption(
  problems: string[],
  field: string,
  name: string,
  setting: RateLimitSetting,
): NamedLimit | undefined {
  const limit = limitOption(problems, field, setting);
  const policy = setting?.policy ?? 'sliding';
  if (policy !== 'sliding' && policy !== 'smooth') {
    problems.push(`${field}.policy must be 'sliding' or 'smooth'.`);
    return undefined;
  }
  return limit && { name, ...limit, policy };
}
