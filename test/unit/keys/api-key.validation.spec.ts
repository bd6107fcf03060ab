import { describe, expect, it } from '@jest/globals';
import { InvalidArgumentError } from '../../../lib/errors/index.js';
import type { ApiKeySettings } from '../../../lib/keys/api-key.types.js';
import {
  expiryFromDuration,
  requireText,
  validateScopes,
  validateSettings,
} from '../../../lib/keys/api-key.validation.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

/** The InvalidArgumentError `run` throws, or a failure when it throws nothing or something else. */
function argumentError(run: () => unknown): InvalidArgumentError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    const argument = error as InvalidArgumentError;
    expect(argument.getStatus()).toBe(400);
    expect(argument.code).toBe('invalid_argument');
    return argument;
  }
  throw new Error('expected an InvalidArgumentError, but nothing was thrown');
}

function settingsError(input: unknown): string {
  return argumentError(() => validateSettings(input as ApiKeySettings, NOW)).message;
}

describe('requireText', () => {
  it('returns the trimmed text', () => {
    expect(requireText('  ci deploy  ', 'name')).toBe('ci deploy');
    expect(requireText('Clé de Zoë 🔑', 'name')).toBe('Clé de Zoë 🔑');
    expect(requireText('x'.repeat(200), 'name')).toBe('x'.repeat(200));
  });

  it.each([
    ['an empty string', ''],
    ['only spaces', '   '],
    ['201 characters', 'x'.repeat(201)],
    ['a newline', 'ci\ndeploy'],
    ['a NUL', 'ci\u0000'],
    ['an ANSI escape', 'ci\u001b[31mred'],
    ['a DEL', 'ci\u007f'],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
  ])('refuses %s and names the field', (_label, value) => {
    const message = argumentError(() => requireText(value, 'subject')).message;
    expect(message).toMatch(/^subject must be/);
    expect(message).toContain('200');
  });

  // Known bug: only C0 controls and DEL are refused; C1 controls (U+0080–U+009F) pass, although they
  // are control characters too, and U+009B (CSI) starts a terminal escape sequence in a CLI listing.
  it.each([
    ['NEL (U+0085)', 'ci\u0085deploy'],
    ['CSI (U+009B)', 'ci\u009b31mred'],
  ])('refuses the C1 control character %s', (_label, value) => {
    expect(argumentError(() => requireText(value, 'name')).message).toMatch(/^name must be/);
  });
});

describe('validateScopes', () => {
  it('returns the scopes without duplicates, wildcards allowed', () => {
    expect(validateScopes(['orders:read', 'orders:*', 'orders:read'])).toEqual(['orders:read', 'orders:*']);
    expect(validateScopes([])).toEqual([]);
  });

  it('refuses a non-array', () => {
    expect(argumentError(() => validateScopes('orders:read')).message).toMatch(/scopes must be an array/);
  });

  it('refuses more than 100 scopes', () => {
    const scopes = Array.from({ length: 101 }, (_, i) => `s${i}:read`);
    expect(argumentError(() => validateScopes(scopes)).message).toMatch(/at most 100 scopes/);
    expect(validateScopes(scopes.slice(0, 100))).toHaveLength(100);
  });

  it.each([['a b'], ['*'], ['orders:*:x'], [''], [42], ['x'.repeat(129)]])(
    'refuses the invalid scope %j and names it',
    (scope) => {
      const message = argumentError(() => validateScopes(['orders:read', scope])).message;
      expect(message).toContain('Invalid scope');
      expect(message).toContain(JSON.stringify(String(scope).slice(0, 64)));
      expect(message).toContain('orders:read');
    },
  );
});

describe('validateSettings', () => {
  it('returns only the fields given, converted to column values', () => {
    expect(validateSettings({}, NOW)).toEqual({});
    const expiresAt = new Date(NOW + 86_400_000);
    expect(
      validateSettings(
        {
          name: ' ci ',
          scopes: ['orders:read'],
          metadata: { team: 'payments', n: 1 },
          expiresAt: expiresAt.toISOString(),
          allowedIps: ['10.0.0.0/8', '10.0.0.0/8', '2001:db8::1'],
          allowedReferrers: ['*.example.com', 'https://app.example.com'],
          rateLimit: { limit: 100, window: '1m' },
          remaining: 1000,
          quotaRefill: { amount: 1000, interval: '1d' },
        },
        NOW,
      ),
    ).toEqual({
      name: 'ci',
      scopes: ['orders:read'],
      metadata: { team: 'payments', n: 1 },
      expiresAt,
      allowedIps: ['10.0.0.0/8', '2001:db8::1'],
      allowedReferrers: ['*.example.com', 'https://app.example.com'],
      rateLimit: { limit: 100, windowSeconds: 60 },
      remaining: 1000,
      quotaRefill: { amount: 1000, intervalSeconds: 86_400 },
    });
  });

  it('turns null and empty lists into "no restriction"', () => {
    expect(
      validateSettings(
        {
          metadata: null,
          expiresAt: null,
          allowedIps: [],
          allowedReferrers: null,
          rateLimit: null,
          remaining: null,
          quotaRefill: null,
        },
        NOW,
      ),
    ).toEqual({
      metadata: null,
      expiresAt: null,
      allowedIps: null,
      allowedReferrers: null,
      rateLimit: null,
      remaining: null,
      quotaRefill: null,
    });
  });

  it('accepts a Date for expiresAt', () => {
    const expiresAt = new Date(NOW + 1);
    expect(validateSettings({ expiresAt }, NOW).expiresAt).toEqual(expiresAt);
  });

  it('stores a copy of the metadata, not the caller object', () => {
    const metadata = { nested: { a: 1 } };
    const out = validateSettings({ metadata }, NOW);
    metadata.nested.a = 2;
    expect(out.metadata).toEqual({ nested: { a: 1 } });
  });

  it.each([
    ['not an object', null, /Expected an object/],
    ['a string', 'name', /Expected an object/],
    ['an empty name', { name: '' }, /^name must be/],
    [
      'a past expiresAt',
      { expiresAt: new Date(NOW - 1000).toISOString() },
      /expiresAt must be in the future/,
    ],
    ['expiresAt equal to now', { expiresAt: new Date(NOW) }, /expiresAt must be in the future/],
    ['an unparsable expiresAt', { expiresAt: 'next tuesday' }, /expiresAt must be a date/],
    ['a numeric expiresAt', { expiresAt: NOW + 1000 }, /expiresAt must be a date/],
    ['metadata that is an array', { metadata: [1, 2] }, /metadata must be a JSON object/],
    ['metadata that is a string', { metadata: 'x' }, /metadata must be a JSON object/],
    ['metadata over 8 KiB', { metadata: { blob: 'x'.repeat(8192) } }, /metadata .*8192 bytes/],
    [
      'a bad CIDR',
      { allowedIps: ['10.0.0.0/33'] },
      /allowedIps entry "10\.0\.0\.0\/33" is not an IP address/,
    ],
    ['an IP list that is not an array', { allowedIps: '10.0.0.1' }, /allowedIps must be an array/],
    [
      'more than 100 IPs',
      { allowedIps: Array.from({ length: 101 }, (_, i) => `10.0.0.${i}`) },
      /at most 100/,
    ],
    [
      'a bad referrer',
      { allowedReferrers: ['https://x.com/path'] },
      /allowedReferrers entry "https:\/\/x\.com\/path"/,
    ],
    ['a rate limit window of 500ms', { rateLimit: { limit: 10, window: '500ms' } }, /rateLimit must be/],
    ['a rate limit of 0', { rateLimit: { limit: 0, window: '1m' } }, /rateLimit must be/],
    ['a fractional rate limit', { rateLimit: { limit: 1.5, window: '1m' } }, /rateLimit must be/],
    ['a rate limit without a window', { rateLimit: { limit: 10 } }, /rateLimit must be/],
    ['a negative remaining', { remaining: -1 }, /remaining must be/],
    ['a fractional remaining', { remaining: 0.5 }, /remaining must be/],
    ['a refill of 0', { quotaRefill: { amount: 0, interval: '1d' } }, /quotaRefill must be/],
    ['a refill every 10ms', { quotaRefill: { amount: 5, interval: '10ms' } }, /quotaRefill must be/],
  ])('refuses %s with a message naming the field', (_label, input, message) => {
    expect(settingsError(input)).toMatch(message);
  });

  it('accepts metadata of exactly 8 KiB of JSON, counted in bytes', () => {
    const fill = 8192 - JSON.stringify({ b: '' }).length;
    expect(validateSettings({ metadata: { b: 'x'.repeat(fill) } }, NOW).metadata).toBeDefined();
    // "é" is two bytes in UTF-8: the same number of characters is over the limit.
    expect(settingsError({ metadata: { b: 'é'.repeat(fill) } })).toMatch(/metadata/);
  });

  it('does not echo more than 64 characters of a bad entry', () => {
    const bad = 'z'.repeat(500);
    const message = settingsError({ allowedIps: [bad] });
    expect(message).toContain('z'.repeat(64));
    expect(message).not.toContain('z'.repeat(65));
  });
});

describe('expiryFromDuration', () => {
  it('adds the duration to now', () => {
    expect(expiryFromDuration('30d', NOW)).toEqual(new Date(NOW + 30 * 86_400_000));
    expect(expiryFromDuration(60, NOW)).toEqual(new Date(NOW + 60_000));
  });

  it.each(['0s', '-1d', 'soon', 0, -5])('refuses %j', (value) => {
    expect(argumentError(() => expiryFromDuration(value, NOW)).message).toMatch(/expiresIn must be/);
  });

  // Known bug: a duration past the end of the JavaScript date range (±8.64e15 ms from 1970) yields an
  // Invalid Date instead of an InvalidArgumentError (e.g. `keys create --expires-in 100000000d`).
  it.each([
    ['100000000d (beyond year 275760)', '100000000d'],
    ['a 400-digit number of seconds', '9'.repeat(400) + 's'],
  ])('refuses %s, which no date can represent', (_label, value) => {
    expect(argumentError(() => expiryFromDuration(value, NOW)).message).toMatch(/expiresIn/);
  });
});
