/** The deepest resource path the path-suffixed metadata is served for. */
export const MAX_RESOURCE_SEGMENTS = 4;

/** Segments of URL path characters (RFC 3986 pchar), none empty. */
const RESOURCE_PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/;
const DOT_SEGMENT = /\/(\.|%2e){1,2}(\/|$)/i;

/**
 * Whether `path` can name a resource under the issuer in a path-suffixed metadata URL (RFC 9728 §3.1): at
 * most `MAX_RESOURCE_SEGMENTS` segments, none empty, `.` or `..`, so the resource named is exactly the one
 * the client asked about.
 */
export function isResourcePath(path: string): boolean {
  return (
    RESOURCE_PATH.test(path) && !DOT_SEGMENT.test(path) && path.split('/').length - 1 <= MAX_RESOURCE_SEGMENTS
  );
}
