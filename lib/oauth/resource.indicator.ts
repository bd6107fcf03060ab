import { OAuthError } from '../errors/index.js';

/**
 * A URI in the form RFC 3986 §6.2.2–6.2.3 compares by: scheme and host in lower case, the default port
 * dropped, an empty path as `/`, percent-encoding normalised (WHATWG URL does all of it). `undefined` for
 * a value that is not an absolute URI, or that carries credentials.
 */
export function canonicalUri(value: string): URL | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.username !== '' || url.password !== '') return undefined;
  return url;
}

const targetError = (description: string) => new OAuthError('invalid_target', description);

/**
 * The audience a `resource` parameter (RFC 8707) asks for: the configured audience it equals as a
 * canonical URI; or, for a path under the resource server's base URL `base` (itself a configured audience),
 * that audience, since a token for the API is good for every route of it. A value that is exactly a
 * configured audience is also taken as it is, so audiences that are not URLs keep working.
 */
export function audienceOfResource(resource: string, audiences: readonly string[], base: string): string {
  if (audiences.includes(resource)) return resource;
  // RFC 8707 §2: an absolute URI without a fragment; `#` alone is a fragment too, though URL drops it.
  if (resource.includes('#')) throw targetError('The resource parameter must not include a fragment.');
  const url = canonicalUri(resource);
  if (!url) throw targetError('The resource parameter must be an absolute URI without credentials.');
  const equal = audiences.find((audience) => canonicalUri(audience)?.href === url.href);
  if (equal !== undefined) return equal;
  const root = canonicalUri(base);
  const baseAudience = root && audiences.find((audience) => canonicalUri(audience)?.href === root.href);
  if (baseAudience !== undefined && url.search === '' && isUnder(url, root!)) return baseAudience;
  throw targetError('The requested audience or resource is not served by this issuer.');
}

/** Whether `url` is a path under `root` (same origin, `root`'s path a whole-segment prefix of its path). */
function isUnder(url: URL, root: URL): boolean {
  if (url.origin !== root.origin || url.origin === 'null') return false;
  const prefix = root.pathname.endsWith('/') ? root.pathname : `${root.pathname}/`;
  return url.pathname.startsWith(prefix);
}
