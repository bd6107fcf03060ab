/** The response headers errors call for: challenges and rate-limit state. */

/** `WWW-Authenticate: Bearer …` (RFC 6750 §3) with an error code and description. */
export function bearerChallenge(realm: string, error?: string, extra: Record<string, string> = {}): string {
  const params = [`realm="${realm}"`];
  if (error) params.push(`error="${error}"`);
  for (const name in extra) params.push(`${name}="${extra[name]}"`);
  return `Bearer ${params.join(', ')}`;
}

/** What a rate limiter or quota reports to the client in `RateLimit-*` headers. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': String(Math.max(0, state.remaining)),
    'RateLimit-Reset': String(Math.max(0, Math.ceil(state.resetSeconds))),
  };
}

/** The state of one named limit among several (draft-ietf-httpapi-ratelimit-headers-09/10). */
export interface NamedRateLimitState extends RateLimitState {
  name: string;
  windowSeconds: number;
}

/**
 * `RateLimit-Limit/Remaining/Reset` of the binding limit, beside the draft's structured fields for every
 * limit: `RateLimit-Policy: "burst";q=10;w=1, "sustained";q=1000;w=3600` and
 * `RateLimit: "burst";r=3;t=1, "sustained";r=990;t=3600`.
 */
export function namedRateLimitHeaders(
  states: readonly NamedRateLimitState[],
  binding: RateLimitState,
): Record<string, string> {
  const headers = rateLimitHeaders(binding);
  let policy = '';
  let current = '';
  for (const state of states) {
    const separator = policy ? ', ' : '';
    policy += `${separator}"${state.name}";q=${state.limit};w=${state.windowSeconds}`;
    current += `${separator}"${state.name}";r=${Math.max(0, state.remaining)};t=${Math.max(0, Math.ceil(state.resetSeconds))}`;
  }
  headers['RateLimit-Policy'] = policy;
  headers['RateLimit'] = current;
  return headers;
}

/** `Retry-After` (whole seconds, at least 1) with the `RateLimit-*` headers of a 429. */
export function tooManyRequestsHeaders(state: RateLimitState): Record<string, string> {
  return { 'Retry-After': String(retryAfterSeconds(state)), ...rateLimitHeaders(state) };
}

export function retryAfterSeconds(state: RateLimitState): number {
  return Math.max(1, Math.ceil(state.resetSeconds));
}
