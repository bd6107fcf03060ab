import { randomBytes } from 'node:crypto';

export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE62_CHAR = /^[0-9A-Za-z]*$/;

/**
 * `length` characters drawn uniformly from the base62 alphabet with a CSPRNG. Bytes of 248 and above are
 * dropped (rejection sampling), so every character carries log2(62) ≈ 5.95 bits and no character is favoured.
 */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.1) + 4);
    for (let i = 0; i < bytes.length && out.length < length; i++) {
      const byte = bytes[i];
      if (byte < 248) out += BASE62_ALPHABET[byte % 62];
    }
  }
  return out;
}

/** `value` written in base62, left-padded with `0` to `width` characters. */
export function encodeBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  while (rest > 0) {
    out = BASE62_ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

export function isBase62(value: string): boolean {
  return BASE62_CHAR.test(value);
}
