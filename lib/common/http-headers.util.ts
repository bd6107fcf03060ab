import type { IncomingRequestLike } from './client-address.util.js';

/**
 * Whether the request carried `Authorization` more than once. Node keeps only the first in `headers`, so
 * `Bearer <good>` followed by `Bearer <other>` would pass as the first: such a request is refused rather than
 * guessed at. One pass over the raw header list, comparing names only when their length matches.
 */
export function repeatsAuthorization(request: IncomingRequestLike): boolean {
  const raw = request.rawHeaders ?? request.raw?.rawHeaders;
  if (!raw) return false;
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}
