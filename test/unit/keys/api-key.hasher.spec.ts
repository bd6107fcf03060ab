import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { generateKey } from '../../../lib/keys/api-key.format.js';
import { ApiKeyHasher } from '../../../lib/keys/api-key.hasher.js';

const PEPPER = 'p'.repeat(16) + 'epper-of-at-least-32-characters';

describe('ApiKeyHasher', () => {
  it('with a pepper, stores HMAC-SHA-256(pepper, key) as lower-case hex', () => {
    const key = generateKey('kb_live_');
    const expected = createHmac('sha256', PEPPER).update(key).digest('hex');
    expect(new ApiKeyHasher(PEPPER).hash(key)).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  });

  it('treats the pepper as UTF-8', () => {
    const pepper = 'clé-secrète-🔑-'.padEnd(40, 'x');
    const key = generateKey('kb_live_');
    expect(new ApiKeyHasher(pepper).hash(key)).toBe(
      createHmac('sha256', Buffer.from(pepper, 'utf8')).update(key).digest('hex'),
    );
  });

  it('without a pepper, stores plain SHA-256(key) as lower-case hex', () => {
    const key = generateKey('kb_test_');
    const expected = createHash('sha256').update(key).digest('hex');
    expect(new ApiKeyHasher(undefined).hash(key)).toBe(expected);
    expect(new ApiKeyHasher('').hash(key)).toBe(expected);
  });

  it('is deterministic, and different keys or different peppers give different hashes', () => {
    const key = generateKey('kb_live_');
    const a = new ApiKeyHasher(PEPPER);
    const b = new ApiKeyHasher(PEPPER + 'x');
    expect(a.hash(key)).toBe(a.hash(key));
    expect(a.hash(key)).not.toBe(b.hash(key));
    expect(a.hash(key)).not.toBe(new ApiKeyHasher(undefined).hash(key));
    expect(a.hash(key)).not.toBe(a.hash(generateKey('kb_live_')));
  });

  describe('same', () => {
    const hasher = new ApiKeyHasher(PEPPER);
    const digest = hasher.hash(generateKey('kb_live_'));

    it('is true for equal digests', () => {
      expect(ApiKeyHasher.same(digest, String(digest))).toBe(true);
    });

    it('is false for digests that differ in one character', () => {
      const last = digest.at(-1) === '0' ? '1' : '0';
      expect(ApiKeyHasher.same(digest, digest.slice(0, -1) + last)).toBe(false);
      const first = digest[0] === 'f' ? 'e' : 'f';
      expect(ApiKeyHasher.same(digest, first + digest.slice(1))).toBe(false);
    });

    it('is false, without throwing, when the lengths differ', () => {
      expect(() => ApiKeyHasher.same(digest, digest.slice(0, 62))).not.toThrow();
      expect(ApiKeyHasher.same(digest, digest.slice(0, 62))).toBe(false);
      expect(ApiKeyHasher.same(digest, digest + '00')).toBe(false);
      expect(ApiKeyHasher.same(digest, '')).toBe(false);
    });
  });
});
