import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { DpopNonces } from '../../../lib/dpop/dpop.nonces.js';
import { readSigningKeys } from '../../../lib/tokens/signing-key.ring.js';

const LIFETIME = 60_000;

function ring(privateKey = generateKeyPairSync('ed25519').privateKey) {
  const problems: string[] = [];
  const keys = readSigningKeys({ alg: 'EdDSA', privateKey }, problems);
  expect(problems).toEqual([]);
  return keys!;
}

describe('DpopNonces', () => {
  const now = 1_764_000_000_000;

  it('accepts its nonce in the current step and the next, and not after', () => {
    const nonces = new DpopNonces(ring(), 'https://api.example.com', LIFETIME);
    const nonce = nonces.issue(now);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{27}$/);
    expect(nonces.issue(now + 1)).toBe(nonce);
    expect(nonces.check(nonce, now)).toBe('current');
    expect(nonces.check(nonce, now + LIFETIME)).toBe('previous');
    expect(nonces.check(nonce, now + 2 * LIFETIME)).toBeUndefined();
    // A nonce from the future is not one this server made yet.
    expect(nonces.check(nonces.issue(now + LIFETIME), now)).toBeUndefined();
  });

  it("agrees with another instance on the same signing key and issuer, and with no one else's", () => {
    const privateKey = generateKeyPairSync('ed25519').privateKey;
    const a = new DpopNonces(ring(privateKey), 'https://api.example.com', LIFETIME);
    const b = new DpopNonces(ring(privateKey), 'https://api.example.com', LIFETIME);
    expect(b.check(a.issue(now), now)).toBe('current');
    const otherKey = new DpopNonces(ring(), 'https://api.example.com', LIFETIME);
    const otherIssuer = new DpopNonces(ring(privateKey), 'https://other.example.com', LIFETIME);
    expect(otherKey.check(a.issue(now), now)).toBeUndefined();
    expect(otherIssuer.check(a.issue(now), now)).toBeUndefined();
  });

  it('refuses forged, altered and malformed nonces', () => {
    const nonces = new DpopNonces(ring(), 'https://api.example.com', LIFETIME);
    const nonce = nonces.issue(now);
    const bytes = Buffer.from(nonce, 'base64url');
    bytes[bytes.length - 1] ^= 1;
    for (const bad of [
      bytes.toString('base64url'),
      '',
      'x'.repeat(27),
      nonce.slice(1),
      42,
      undefined,
      null,
    ]) {
      expect(nonces.check(bad, now)).toBeUndefined();
    }
  });
});
