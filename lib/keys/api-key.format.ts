import { crc32 } from 'node:zlib';
import type { KeyEnvironment, KeyPrefixes } from '../interfaces/key-prefixes.interface.js';
import { encodeBase62, isBase62, randomBase62 } from './base62.util.js';

/** 43 base62 characters carry 43 × log2(62) ≈ 256.03 bits. */
export const KEY_ENTROPY_CHARS = 43;
/** A CRC32 (32 bits) fits in 6 base62 characters (62^6 ≈ 5.7e10 > 2^32). */
export const KEY_CHECKSUM_CHARS = 6;
/** Anything longer than this cannot be a key, whatever the prefix; it is refused before any other work. */
export const MAX_KEY_LENGTH = 128;
const PREFIX_PATTERN = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_$/;

export const DEFAULT_KEY_PREFIXES: Readonly<KeyPrefixes> = Object.freeze({
  live: 'kb_live_',
  test: 'kb_test_',
});

export function isValidPrefix(prefix: string): boolean {
  return typeof prefix === 'string' && prefix.length <= 32 && PREFIX_PATTERN.test(prefix);
}

/** The checksum of everything before it (prefix included, so a mistyped prefix is caught too). */
export function keyChecksum(prefixAndEntropy: string): string {
  return encodeBase62(crc32(prefixAndEntropy), KEY_CHECKSUM_CHARS);
}

/** A new key: `<prefix><43 random base62 chars><6-char CRC32 checksum>`. */
export function generateKey(prefix: string): string {
  const body = prefix + randomBase62(KEY_ENTROPY_CHARS);
  return body + keyChecksum(body);
}

export type KeyShapeProblem = 'malformed' | 'bad_checksum';

/**
 * Checks a presented key's shape without touching any store: length, prefix, alphabet, checksum.
 * Returns the key's environment, or why it cannot be a key.
 */
export function inspectKey(
  candidate: string,
  prefixes: KeyPrefixes,
): { environment: KeyEnvironment } | { problem: KeyShapeProblem } {
  if (candidate.length > MAX_KEY_LENGTH) return { problem: 'malformed' };
  const environment: KeyEnvironment | undefined = candidate.startsWith(prefixes.live)
    ? 'live'
    : candidate.startsWith(prefixes.test)
      ? 'test'
      : undefined;
  if (!environment) return { problem: 'malformed' };
  const prefixLength = prefixes[environment].length;
  if (candidate.length !== prefixLength + KEY_ENTROPY_CHARS + KEY_CHECKSUM_CHARS)
    return { problem: 'malformed' };
  if (!isBase62(candidate.slice(prefixLength))) return { problem: 'malformed' };
  const split = candidate.length - KEY_CHECKSUM_CHARS;
  if (keyChecksum(candidate.slice(0, split)) !== candidate.slice(split)) return { problem: 'bad_checksum' };
  return { environment };
}

/** The non-secret display form of a key: its prefix and last four characters. */
/** Whether a value starts like an API key of either environment (shape unchecked): never echo it. */
export function looksLikeApiKey(value: string, prefixes: KeyPrefixes): boolean {
  return value.startsWith(prefixes.live) || value.startsWith(prefixes.test);
}

export function keyHint(key: string, prefix: string): string {
  return `${prefix}…${key.slice(-4)}`;
}
