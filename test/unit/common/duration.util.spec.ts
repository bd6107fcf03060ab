import { describe, expect, it } from '@jest/globals';
import { parseDuration } from '../../../lib/common/duration.util.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['30d', 2_592_000_000],
    ['1w', 604_800_000],
    ['0s', 0],
    ['1.5s', 1500],
    [' 30s ', 30_000],
  ])('reads %j as %d ms', (value, expected) => {
    expect(parseDuration(value)).toBe(expected);
  });

  it.each([
    [0, 0],
    [1, 1000],
    [30, 30_000],
    [0.5, 500],
    [86_400, 86_400_000],
  ])('reads the number %d as seconds', (value, expected) => {
    expect(parseDuration(value)).toBe(expected);
  });

  it.each(['', 'abc', '30', '30x', 's', '-5s', '5 minutes', '1y', '30S', '1e3s', 'ms', '1.s', '.5s', '5s5'])(
    'refuses the string %j',
    (value) => {
      expect(parseDuration(value)).toBeUndefined();
    },
  );

  it.each([-1, -0.001, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'refuses the number %d',
    (value) => {
      expect(parseDuration(value)).toBeUndefined();
    },
  );

  it('refuses values that are not a number or a string', () => {
    expect(parseDuration(null as unknown as string)).toBeUndefined();
    expect(parseDuration(undefined as unknown as string)).toBeUndefined();
    expect(parseDuration({} as unknown as string)).toBeUndefined();
  });

  // Known bug: a string of many digits parses to Infinity, which is not a number of milliseconds
  // (it then turns into an Invalid Date in expiryFromDuration, or a never-expiring cache ttl).
  it('never returns a non-finite number of milliseconds (400-digit input)', () => {
    const result = parseDuration('9'.repeat(400) + 's');
    expect(result === undefined || Number.isFinite(result)).toBe(true);
  });
});
