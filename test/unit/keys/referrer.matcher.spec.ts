import { describe, expect, it } from '@jest/globals';
import { isValidReferrerPattern, ReferrerMatcher } from '../../../lib/keys/referrer.matcher.js';

describe('isValidReferrerPattern', () => {
  it.each([
    'example.com',
    'app.example.com',
    'App.Example.com',
    'localhost',
    'localhost:3000',
    '*.example.com',
    'https://app.example.com',
    'https://app.example.com/',
    'http://localhost:8080',
  ])('accepts %j', (entry) => {
    expect(isValidReferrerPattern(entry)).toBe(true);
  });

  it.each([
    '',
    '*',
    '*.',
    'a.*.example.com',
    '**.example.com',
    'example..com',
    '.example.com',
    'exa mple.com',
    'example.com/path',
    'https://app.example.com/path',
    'https://app.example.com/?q=1',
    'ftp://example.com',
    'javascript://alert(1)',
    'https://',
    'bücher.example',
    `${'a'.repeat(252)}.com`,
  ])('refuses %j', (entry) => {
    expect(isValidReferrerPattern(entry)).toBe(false);
  });

  it.each([undefined, null, 42, ['example.com']])('refuses the non-string %j', (entry) => {
    expect(isValidReferrerPattern(entry)).toBe(false);
  });
});

describe('ReferrerMatcher', () => {
  it('matches a host name entry on any scheme, port and path, ignoring case', () => {
    const matcher = new ReferrerMatcher(['app.example.com']);
    expect(matcher.allows('https://app.example.com/orders?id=1')).toBe(true);
    expect(matcher.allows('http://app.example.com')).toBe(true);
    expect(matcher.allows('https://APP.Example.COM/')).toBe(true);
    expect(matcher.allows('https://app.example.com:8443/')).toBe(true);
  });

  it('does not let a host name entry match other hosts', () => {
    const matcher = new ReferrerMatcher(['app.example.com']);
    expect(matcher.allows('https://example.com/')).toBe(false);
    expect(matcher.allows('https://evil.app.example.com/')).toBe(false);
    expect(matcher.allows('https://app.example.com.evil.net/')).toBe(false);
    expect(matcher.allows('https://evil.net/app.example.com')).toBe(false);
    expect(matcher.allows('https://app.example.com@evil.net/')).toBe(false);
  });

  it('matches a host:port entry only on that port', () => {
    const matcher = new ReferrerMatcher(['localhost:3000']);
    expect(matcher.allows('http://localhost:3000/page')).toBe(true);
    expect(matcher.allows('http://localhost:3001/page')).toBe(false);
    expect(matcher.allows('http://localhost/page')).toBe(false);
  });

  it('lets *.example.com match sub-domains but not example.com itself nor look-alike domains', () => {
    const matcher = new ReferrerMatcher(['*.example.com']);
    expect(matcher.allows('https://a.example.com/')).toBe(true);
    expect(matcher.allows('https://a.b.example.com/x')).toBe(true);
    expect(matcher.allows('https://A.EXAMPLE.com/')).toBe(true);
    expect(matcher.allows('https://example.com/')).toBe(false);
    expect(matcher.allows('https://evil-example.com/')).toBe(false);
    expect(matcher.allows('https://a.example.com.evil.net/')).toBe(false);
    expect(matcher.allows('https://notexample.com/')).toBe(false);
  });

  // Known bug: isValidReferrerPattern accepts '*.example.com:8443', but the matcher compares the
  // suffix (port included) with the URL's host name (port excluded), so the entry never matches.
  it('honours the port of a wildcard entry', () => {
    expect(isValidReferrerPattern('*.example.com:8443')).toBe(true);
    const matcher = new ReferrerMatcher(['*.example.com:8443']);
    expect(matcher.allows('https://a.example.com:8443/')).toBe(true);
    expect(matcher.allows('https://a.example.com/')).toBe(false);
  });

  it('pins the scheme and port of an origin entry', () => {
    const matcher = new ReferrerMatcher(['https://app.example.com']);
    expect(matcher.allows('https://app.example.com')).toBe(true);
    expect(matcher.allows('https://app.example.com/any/path?x=1')).toBe(true);
    expect(matcher.allows('https://app.example.com:443/')).toBe(true);
    expect(matcher.allows('http://app.example.com/')).toBe(false);
    expect(matcher.allows('https://app.example.com:8443/')).toBe(false);
    expect(matcher.allows('https://other.example.com/')).toBe(false);
  });

  it.each([undefined, '', 'null', 'not a url', 'app.example.com', '/relative/path', 'javascript:alert(1)'])(
    'refuses the missing or unparsable referrer %j',
    (referrer) => {
      expect(new ReferrerMatcher(['app.example.com', '*.example.com']).allows(referrer)).toBe(false);
    },
  );

  it('refuses non-http schemes even for an allowed host', () => {
    const matcher = new ReferrerMatcher(['app.example.com']);
    expect(matcher.allows('ftp://app.example.com/')).toBe(false);
    expect(matcher.allows('ws://app.example.com/')).toBe(false);
  });

  it('allows nothing when empty', () => {
    expect(new ReferrerMatcher([]).allows('https://app.example.com/')).toBe(false);
  });
});
