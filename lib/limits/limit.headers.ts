import { namedRateLimitHeaders, RateLimitedError } from '../errors/index.js';
import { bindingState, type LimitDecision } from './limit.types.js';

/**
 * The headers of an admitted request, or the 429 of a refused one: `RateLimit-Limit/Remaining/Reset` of the
 * binding limit (the refusing one, else the one with the fewest units left), `RateLimit-Policy` and
 * `RateLimit` for every limit, and `Retry-After` until the refusing limit has room again.
 */
export function limitHeaders(decision: LimitDecision): Record<string, string> {
  const binding = bindingState(decision);
  if (!decision.allowed) {
    throw new RateLimitedError(binding, 'Rate limit exceeded.', {
      name: binding.name,
      scope: binding.scope,
      tooCostly: decision.tooCostly,
      states: decision.states,
    });
  }
  return namedRateLimitHeaders(decision.states, binding);
}
