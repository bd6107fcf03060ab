import { createHmac, createSecretKey, hash, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Turns a key into the value stored and indexed: HMAC-SHA-256 under the server pepper, or plain SHA-256 when
 * no pepper is configured. Keys carry 256 random bits, so a fast hash is the right tool: a slow password
 * hash would only make every verification cost milliseconds without making a key harder to guess.
 */
export class ApiKeyHasher {
  private readonly pepper: KeyObject | undefined;

  constructor(pepper: string | undefined) {
    this.pepper = pepper ? createSecretKey(Buffer.from(pepper, 'utf8')) : undefined;
  }

  /** Lower-case hex, 64 characters. */
  hash(key: string): string {
    return this.pepper
      ? createHmac('sha256', this.pepper).update(key).digest('hex')
      : hash('sha256', key, 'hex');
  }

  /** Constant-time comparison of two digests (or any two ASCII strings). */
  static same(a: string, b: string): boolean {
    const left = Buffer.from(a, 'latin1');
    const right = Buffer.from(b, 'latin1');
    return left.length === right.length && timingSafeEqual(left, right);
  }
}
