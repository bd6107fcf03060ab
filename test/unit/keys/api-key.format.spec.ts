import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_KEY_PREFIXES,
  generateKey,
  inspectKey,
  isValidPrefix,
  KEY_CHECKSUM_CHARS,
  KEY_ENTROPY_CHARS,
  keyChecksum,
  keyHint,
} from '../../../lib/keys/api-key.format.js';
import type { KeyPrefixes } from '../../../lib/interfaces/key-prefixes.interface.js';
import { BASE62_ALPHABET } from '../../../lib/keys/base62.util.js';

const prefixes: KeyPrefixes = { ...DEFAULT_KEY_PREFIXES };
const LIVE = prefixes.live;
const TEST = prefixes.test;

/** Replaces the character at `index` of `value`. */
function replaceAt(value: string, index: number, char: string): string {
  return value.slice(0, index) + char + value.slice(index + 1);
}

describe('generateKey', () => {
  it('starts with the prefix, is prefix + 43 + 6 long and only base62 after the prefix', () => {
    for (const prefix of [LIVE, TEST, 'acme_', 'x1_y2_']) {
      const key = generateKey(prefix);
      expect(key.startsWith(prefix)).toBe(true);
      expect(key).toHaveLength(prefix.length + 43 + 6);
      expect(key.slice(prefix.length)).toMatch(/^[0-9A-Za-z]{49}$/);
    }
    expect(KEY_ENTROPY_CHARS).toBe(43);
    expect(KEY_CHECKSUM_CHARS).toBe(6);
  });

  it('carries at least 256 bits of randomness', () => {
    expect(KEY_ENTROPY_CHARS * Math.log2(62)).toBeGreaterThanOrEqual(256);
  });

  it('passes its own shape check', () => {
    expect(inspectKey(generateKey(LIVE), prefixes)).toEqual({ environment: 'live' });
    expect(inspectKey(generateKey(TEST), prefixes)).toEqual({ environment: 'test' });
  });

  it('never repeats a key (nor its random part) over 10k keys', () => {
    const keys = new Set<string>();
    const bodies = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const key = generateKey(LIVE);
      keys.add(key);
      bodies.add(key.slice(LIVE.length, LIVE.length + KEY_ENTROPY_CHARS));
    }
    expect(keys.size).toBe(10_000);
    expect(bodies.size).toBe(10_000);
  });

  it('draws the random characters uniformly from all 62 (no modulo bias, no subset)', () => {
    const counts = new Map<string, number>();
    const keyCount = 20_000;
    for (let i = 0; i < keyCount; i++) {
      const random = generateKey(LIVE).slice(LIVE.length, LIVE.length + KEY_ENTROPY_CHARS);
      for (const char of random) counts.set(char, (counts.get(char) ?? 0) + 1);
    }
    expect([...counts.keys()].sort().join('')).toBe([...BASE62_ALPHABET].sort().join(''));
    const expected = (keyCount * KEY_ENTROPY_CHARS) / 62; // ≈ 13 871, σ ≈ 116
    // ±5 % is about 6σ: random noise stays well inside, while plain `byte % 62` over-draws
    // the first 8 characters by about 19 % and would fall outside.
    const ratios = [...counts.values()].map((count) => count / expected);
    expect(Math.min(...ratios)).toBeGreaterThan(0.95);
    expect(Math.max(...ratios)).toBeLessThan(1.05);
    // The same at every position: no position is stuck or restricted to part of the alphabet.
    const firstChars = new Set<string>();
    const lastChars = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const random = generateKey(LIVE).slice(LIVE.length, LIVE.length + KEY_ENTROPY_CHARS);
      firstChars.add(random[0]);
      lastChars.add(random[KEY_ENTROPY_CHARS - 1]);
    }
    expect(firstChars.size).toBe(62);
    expect(lastChars.size).toBe(62);
  });
});

describe('inspectKey', () => {
  it('accepts valid live and test keys and tells which environment they belong to', () => {
    const live = generateKey(LIVE);
    const test = generateKey(TEST);
    expect(inspectKey(live, prefixes)).toEqual({ environment: 'live' });
    expect(inspectKey(test, prefixes)).toEqual({ environment: 'test' });
  });

  it('works with custom prefixes and refuses default-prefixed keys there', () => {
    const custom: KeyPrefixes = { live: 'acme_prod_', test: 'acme_dev_' };
    expect(inspectKey(generateKey('acme_prod_'), custom)).toEqual({ environment: 'live' });
    expect(inspectKey(generateKey('acme_dev_'), custom)).toEqual({ environment: 'test' });
    expect(inspectKey(generateKey(LIVE), custom)).toEqual({ problem: 'malformed' });
  });

  it.each([
    ['an empty string', ''],
    ['the prefix alone', LIVE],
    ['an unknown prefix', 'sk_live_' + generateKey(LIVE).slice(LIVE.length)],
    ['an upper-case prefix', 'KB_LIVE_' + generateKey(LIVE).slice(LIVE.length)],
    ['a prefix without its underscore', 'kb_live' + generateKey(LIVE).slice(LIVE.length)],
    ['a key without a prefix', generateKey(LIVE).slice(LIVE.length)],
    ['a key one character short', generateKey(LIVE).slice(0, -1)],
    ['a key one character long', generateKey(LIVE) + 'a'],
    ['a key with a trailing newline', generateKey(LIVE) + '\n'],
    ['a key with a leading space', ' ' + generateKey(LIVE)],
    ['a 15 KiB string', LIVE + 'a'.repeat(15 * 1024)],
  ])('returns malformed for %s', (_label, candidate) => {
    expect(inspectKey(candidate, prefixes)).toEqual({ problem: 'malformed' });
  });

  it.each([
    ['é', 'é'],
    ['a space', ' '],
    ['a comma', ','],
    ['a dash', '-'],
    ['an underscore', '_'],
    ['a NUL', '\u0000'],
    ['a full-width letter', 'Ａ'],
  ])('returns malformed for a key containing %s in place of a base62 character', (_label, char) => {
    const key = generateKey(LIVE);
    for (const index of [LIVE.length, LIVE.length + 20, key.length - 1]) {
      expect(inspectKey(replaceAt(key, index, char), prefixes)).toEqual({ problem: 'malformed' });
    }
  });

  it('returns bad_checksum for every single-character substitution anywhere after the prefix', () => {
    const key = generateKey(LIVE);
    let checked = 0;
    for (let index = LIVE.length; index < key.length; index++) {
      for (const char of BASE62_ALPHABET) {
        if (char === key[index]) continue;
        const result = inspectKey(replaceAt(key, index, char), prefixes);
        if (!('problem' in result) || result.problem !== 'bad_checksum') {
          throw new Error(`substitution ${key[index]}→${char} at index ${index} was not caught`);
        }
        checked++;
      }
    }
    expect(checked).toBe((KEY_ENTROPY_CHARS + KEY_CHECKSUM_CHARS) * 61);
  });

  it('returns bad_checksum when two adjacent characters are swapped', () => {
    const key = generateKey(TEST);
    for (let index = TEST.length; index < key.length - 1; index++) {
      if (key[index] === key[index + 1]) continue;
      const swapped = key.slice(0, index) + key[index + 1] + key[index] + key.slice(index + 2);
      expect(inspectKey(swapped, prefixes)).toEqual({ problem: 'bad_checksum' });
    }
  });

  it('refuses a key whose checksum was computed over a different prefix', () => {
    const testKey = generateKey(TEST);
    const movedToLive = LIVE + testKey.slice(TEST.length);
    expect(inspectKey(movedToLive, prefixes)).toEqual({ problem: 'bad_checksum' });

    const random = generateKey(LIVE).slice(LIVE.length, LIVE.length + KEY_ENTROPY_CHARS);
    const foreign = LIVE + random + keyChecksum('other_' + random);
    expect(inspectKey(foreign, prefixes)).toEqual({ problem: 'bad_checksum' });
    expect(inspectKey(LIVE + random + keyChecksum(LIVE + random), prefixes)).toEqual({ environment: 'live' });
  });
});

describe('keyHint', () => {
  it('shows the prefix and the last four characters, and nothing else of the key', () => {
    const key = generateKey(LIVE);
    const hint = keyHint(key, LIVE);
    expect(hint.startsWith(LIVE)).toBe(true);
    expect(hint.endsWith(key.slice(-4))).toBe(true);
    const between = hint.slice(LIVE.length, -4);
    expect(between).not.toMatch(/[0-9A-Za-z]/);
    expect(hint.length).toBeLessThanOrEqual(LIVE.length + 4 + 3);
    expect(hint).not.toContain(key.slice(LIVE.length, -4));
  });
});

describe('isValidPrefix', () => {
  it.each(['kb_live_', 'kb_test_', 'acme_', 'a1_b2_c3_'])('accepts %j', (prefix) => {
    expect(isValidPrefix(prefix)).toBe(true);
  });

  it.each(['', 'kb_live', 'KB_live_', 'kb-live_', '_kb_', 'kb__live_', '1kb_', `${'a'.repeat(32)}_`])(
    'refuses %j',
    (prefix) => {
      expect(isValidPrefix(prefix)).toBe(false);
    },
  );
});
