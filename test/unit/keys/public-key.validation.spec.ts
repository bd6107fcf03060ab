import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { InvalidArgumentError } from '../../../lib/errors/index.js';
import {
  algorithmsOf,
  checkProofSettings,
  validatePublicKey,
} from '../../../lib/keys/public-key.validation.js';

const ed = generateKeyPairSync('ed25519');
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

function refused(value: unknown): string {
  try {
    validatePublicKey(value);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('validatePublicKey', () => {
  it('keeps only the members that define an Ed25519, P-256 or RSA key, and the kid', () => {
    const jwk = { ...ed.publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'EdDSA' };
    expect(validatePublicKey(jwk)).toEqual({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: 'k1' });
    const ecJwk = ec.publicKey.export({ format: 'jwk' });
    expect(validatePublicKey(JSON.stringify(ecJwk))).toEqual({
      kty: 'EC',
      crv: 'P-256',
      x: ecJwk.x,
      y: ecJwk.y,
    });
    expect(algorithmsOf(validatePublicKey(jwk)!)).toEqual(['EdDSA', 'Ed25519']);
  });

  it('reads a PEM public key into the same JWK', () => {
    const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    expect(validatePublicKey(pem)).toEqual({ kty: 'RSA', n: jwk.n, e: jwk.e });
    expect(algorithmsOf(validatePublicKey(pem)!)).toEqual(['RS256']);
  });

  it('refuses private keys, as JWK or PEM, without echoing them', () => {
    const privateJwk = ed.privateKey.export({ format: 'jwk' });
    const message = refused(privateJwk);
    expect(message).toMatch(/private/);
    expect(message).not.toContain(privateJwk.d);
    const pem = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(refused(pem)).toMatch(/private key was given/);
  });

  it('refuses symmetric keys, other curves, short RSA keys and junk', () => {
    expect(refused({ kty: 'oct', k: 'c2VjcmV0' })).toMatch(/private/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    expect(refused(p384)).toMatch(/Ed25519, P-256/);
    const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'pem', type: 'spki' }) as string;
    expect(refused(x25519)).toMatch(/Ed25519, P-256/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    expect(refused(small)).toMatch(/2048/);
    expect(refused({ kty: 'OKP', crv: 'Ed25519', x: 'AAAA' })).toMatch(/not a valid public JWK/);
    expect(refused('{not json')).toMatch(/JSON/);
    expect(refused('ssh-ed25519 AAAA')).toMatch(/PEM/);
    expect(refused([1])).toMatch(/public JWK/);
    expect(validatePublicKey(null)).toBeNull();
  });
});

describe('checkProofSettings', () => {
  it('refuses requiring proof without a key to prove with', () => {
    expect(() => checkProofSettings(null, true)).toThrow(/needs a publicKey/);
    expect(() => checkProofSettings(null, false)).not.toThrow();
    expect(() => checkProofSettings({ kty: 'OKP', crv: 'Ed25519', x: 'x' }, true)).not.toThrow();
  });
});
