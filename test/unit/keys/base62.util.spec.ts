import { describe, expect, it } from '@jest/globals';
import { BASE62_ALPHABET, encodeBase62, isBase62, randomBase62 } from '../../../lib/keys/base62.util.js';

describe('base62.util', () => {
  it('uses the 62 distinct characters 0-9, A-Z, a-z', () => {
    expect(BASE62_ALPHABET).toHaveLength(62);
    expect(new Set(BASE62_ALPHABET).size).toBe(62);
    expect(isBase62(BASE62_ALPHABET)).toBe(true);
  });

  it('randomBase62 returns exactly the requested number of base62 characters', () => {
    for (const length of [1, 6, 43, 250, 1000]) {
      const value = randomBase62(length);
      expect(value).toHaveLength(length);
      expect(value).toMatch(/^[0-9A-Za-z]+$/);
    }
  });

  it('encodeBase62 writes values left-padded to the width', () => {
    expect(encodeBase62(0, 6)).toBe('000000');
    expect(encodeBase62(61, 1)).toBe('z');
    expect(encodeBase62(62, 2)).toBe('10');
    expect(encodeBase62(62 * 62 - 1, 3)).toBe('0zz');
  });

  it('encodeBase62 fits every 32-bit value in 6 characters and stays injective at the edges', () => {
    const max = 2 ** 32 - 1;
    expect(encodeBase62(max, 6)).toHaveLength(6);
    expect(encodeBase62(max, 6)).not.toBe(encodeBase62(max - 1, 6));
    expect(encodeBase62(1, 6)).not.toBe(encodeBase62(62, 6));
  });

  it('isBase62 refuses anything outside the alphabet', () => {
    for (const bad of ['é', ' ', ',', '-', '_', '+', '/', '=', 'abc\n', '\u0000', 'Ａ']) {
      expect(isBase62(bad)).toBe(false);
    }
    expect(isBase62('Zz09')).toBe(true);
  });
});
