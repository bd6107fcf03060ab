/**
 * A referrer allow-list. Entries are host names (`app.example.com`), optionally with a leading wildcard label
 * (`*.example.com`, which matches sub-domains but not `example.com` itself), or origins with a scheme
 * (`https://app.example.com`, which also pins the scheme and port). The request's `Origin` header is used
 * when present, else `Referer`.
 */
const HOST_PATTERN = /^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/;

export function isValidReferrerPattern(entry: unknown): entry is string {
  if (typeof entry !== 'string' || entry.length > 255) return false;
  if (entry.includes('://')) {
    try {
      const url = new URL(entry);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.pathname === '/' && !url.search;
    } catch {
      return false;
    }
  }
  return HOST_PATTERN.test(entry.toLowerCase());
}

export class ReferrerMatcher {
  private readonly origins = new Set<string>();
  private readonly hosts = new Set<string>();
  private readonly suffixes: string[] = [];

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      if (entry.includes('://')) this.origins.add(new URL(entry).origin);
      else if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1).toLowerCase());
      else this.hosts.add(entry.toLowerCase());
    }
  }

  allows(originOrReferer: string | undefined): boolean {
    if (!originOrReferer) return false;
    let url: URL;
    try {
      url = new URL(originOrReferer);
    } catch {
      return false;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
    if (this.origins.has(url.origin)) return true;
    if (this.hosts.has(url.host) || this.hosts.has(url.hostname)) return true;
    // A suffix written with a port (`*.example.com:8443`) pins the port too.
    return this.suffixes.some((suffix) => (suffix.includes(':') ? url.host : url.hostname).endsWith(suffix));
  }
}
