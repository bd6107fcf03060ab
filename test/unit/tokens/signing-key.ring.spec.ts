import {
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { calculateJwkThumbprint, jwtVerify, SignJWT, type JWK } from 'jose';
import type { SigningKeyOption } from '../../../lib/interfaces/signing-key.interface.js';
import { readSigningKeys, type SigningKeyRing } from '../../../lib/tokens/signing-key.ring.js';

const ed25519 = generateKeyPairSync('ed25519');
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const rsaPss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });

const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
const jwkOf = (key: KeyObject) => key.export({ format: 'jwk' });

/** The ring for `option`, or a failure listing the problems. */
function ring(option: SigningKeyOption | SigningKeyOption[]): SigningKeyRing {
  const problems: string[] = [];
  const result = readSigningKeys(option, problems);
  expect(problems).toEqual([]);
  expect(result).toBeDefined();
  return result!;
}

/** The problems `readSigningKeys` reports for `option`; it must return no ring. */
function problemsOf(option: unknown): string[] {
  const problems: string[] = [];
  const result = readSigningKeys(option as SigningKeyOption, problems);
  expect(result).toBeUndefined();
  expect(problems.length).toBeGreaterThan(0);
  return problems;
}

/** Signs a token with the ring's active key and verifies it with the verification key of `kid`. */
async function roundTrip(keys: SigningKeyRing, kid = keys.active.kid): Promise<void> {
  const token = await new SignJWT({ sub: 'x' })
    .setProtectedHeader({ alg: keys.active.alg, kid: keys.active.kid })
    .sign(keys.active.signingKey!);
  const verifier = keys.get(kid)!;
  const { payload } = await jwtVerify(token, verifier.verificationKey, { algorithms: [verifier.alg] });
  expect(payload.sub).toBe('x');
}

describe('readSigningKeys', () => {
  describe('reads every documented key form', () => {
    it.each<[string, () => SigningKeyOption]>([
      ['an Ed25519 PKCS#8 PEM', () => ({ alg: 'EdDSA', privateKey: pkcs8(ed25519.privateKey) })],
      ['a P-256 PKCS#8 PEM', () => ({ alg: 'ES256', privateKey: pkcs8(p256.privateKey) })],
      [
        'a P-256 SEC1 PEM',
        () => ({
          alg: 'ES256',
          privateKey: p256.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
        }),
      ],
      [
        'an RSA PKCS#1 PEM',
        () => ({
          alg: 'RS256',
          privateKey: rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
        }),
      ],
      ['an RSA PKCS#8 PEM', () => ({ alg: 'RS256', privateKey: pkcs8(rsa.privateKey) })],
      [
        'a PEM with surrounding whitespace',
        () => ({ alg: 'EdDSA', privateKey: `\n  ${pkcs8(ed25519.privateKey)}\n` }),
      ],
      ['a private JWK object', () => ({ alg: 'EdDSA', privateKey: jwkOf(ed25519.privateKey) })],
      [
        'a private JWK as JSON text',
        () => ({ alg: 'ES256', privateKey: JSON.stringify(jwkOf(p256.privateKey)) }),
      ],
      ['a KeyObject', () => ({ alg: 'RS256', privateKey: rsa.privateKey })],
      ['an HS256 secret of 32 bytes', () => ({ alg: 'HS256', secret: randomBytes(32) })],
      ['an HS256 secret string of 32 characters', () => ({ alg: 'HS256', secret: 's'.repeat(32) })],
    ])('%s, whose key signs tokens that it verifies', async (_form, option) => {
      const keys = ring(option());
      expect(keys.active.alg).toBe(option().alg);
      expect(keys.active.signingKey).toBeDefined();
      expect(keys.ephemeral).toBe(false);
      await roundTrip(keys);
    });
  });

  describe('refuses a key that does not fit its algorithm', () => {
    it.each<[string, SigningKeyOption, RegExp]>([
      [
        'EdDSA with a P-256 key',
        { alg: 'EdDSA', privateKey: p256.privateKey },
        /must be an Ed25519 key for EdDSA/,
      ],
      [
        'EdDSA with an RSA key',
        { alg: 'EdDSA', privateKey: pkcs8(rsa.privateKey) },
        /must be an Ed25519 key/,
      ],
      [
        'ES256 with a P-384 key',
        { alg: 'ES256', privateKey: pkcs8(p384.privateKey) },
        /must be an EC P-256 key/,
      ],
      [
        'ES256 with an Ed25519 key',
        { alg: 'ES256', privateKey: ed25519.privateKey },
        /must be an EC P-256 key/,
      ],
      [
        'RS256 with an Ed25519 key',
        { alg: 'RS256', privateKey: pkcs8(ed25519.privateKey) },
        /must be an RSA key/,
      ],
      ['RS256 with an RSA-PSS key', { alg: 'RS256', privateKey: rsaPss.privateKey }, /must be an RSA key/],
      [
        'HS256 with a private key',
        { alg: 'HS256', privateKey: pkcs8(ed25519.privateKey) },
        /HS256 takes a secret/,
      ],
      [
        'EdDSA with a secret',
        { alg: 'EdDSA', secret: randomBytes(32) },
        /EdDSA takes a privateKey, not a secret/,
      ],
      ['EdDSA without any key', { alg: 'EdDSA' }, /needs a privateKey/],
      [
        'a public key PEM given as privateKey',
        { alg: 'EdDSA', privateKey: spki(ed25519.publicKey) },
        /privateKey could not be read as a private EdDSA key/,
      ],
      [
        'a public KeyObject given as privateKey',
        { alg: 'EdDSA', privateKey: ed25519.publicKey },
        /could not be read as a private EdDSA key/,
      ],
      ['text that is no key', { alg: 'ES256', privateKey: 'not a key' }, /could not be read/],
      ['a JWK text that does not parse', { alg: 'ES256', privateKey: '{"kty":"EC",' }, /could not be read/],
    ])('%s', (_case, option, message) => {
      expect(problemsOf(option).join('\n')).toMatch(message);
    });

    it('refuses an unknown alg, naming the supported ones', () => {
      expect(problemsOf({ alg: 'none', privateKey: ed25519.privateKey }).join('\n')).toMatch(
        /alg must be one of EdDSA, ES256, RS256, HS256, got "none"/,
      );
    });

    it('refuses an RSA key under 2048 bits', () => {
      expect(problemsOf({ alg: 'RS256', privateKey: pkcs8(rsa1024.privateKey) })).toEqual([
        'signing is an RSA key of 1024 bits; RS256 needs at least 2048.',
      ]);
    });

    it.each<[string, string | Uint8Array | undefined]>([
      ['31 bytes', randomBytes(31)],
      ['a string of 31 characters', 'x'.repeat(31)],
      ['an empty string', ''],
      ['an empty byte array', new Uint8Array(0)],
      ['no secret at all', undefined],
    ])('refuses an HS256 secret of %s', (_case, secret) => {
      expect(problemsOf({ alg: 'HS256', secret }).join('\n')).toMatch(
        /secret must be at least 32 bytes for HS256/,
      );
    });

    it('counts an HS256 secret in UTF-8 bytes, not characters', () => {
      // 16 characters of 2 bytes each: 32 bytes.
      ring({ alg: 'HS256', secret: 'é'.repeat(16) });
      problemsOf({ alg: 'HS256', secret: 'é'.repeat(15) + 'x' });
    });

    it.each(['', 'has space', 'slash/kid', 'k'.repeat(65)])('refuses the kid %j', (kid) => {
      expect(problemsOf({ alg: 'EdDSA', privateKey: ed25519.privateKey, kid }).join('\n')).toMatch(
        /kid must be 1 to 64 letters/,
      );
    });

    it('refuses an empty list and a non-object entry', () => {
      expect(problemsOf([])).toEqual([
        'signing must be a key or a non-empty list of keys; the first one signs.',
      ]);
      expect(problemsOf([null]).join('\n')).toMatch(/signing\[0\] must be an object with an alg/);
    });
  });

  describe('several keys', () => {
    it('refuses a kid used twice, given or derived', () => {
      expect(
        problemsOf([
          { alg: 'EdDSA', privateKey: ed25519.privateKey, kid: 'same' },
          { alg: 'ES256', privateKey: p256.privateKey, kid: 'same' },
        ]),
      ).toEqual(['signing[1].kid "same" is used twice.']);
      expect(
        problemsOf([
          { alg: 'EdDSA', privateKey: ed25519.privateKey },
          { alg: 'EdDSA', publicKey: ed25519.publicKey },
        ]).join('\n'),
      ).toMatch(/signing\[1\]\.kid ".+" is used twice/);
    });

    it('requires the first key to be able to sign', () => {
      expect(problemsOf([{ alg: 'EdDSA', publicKey: spki(ed25519.publicKey) }])).toEqual([
        'signing[0] is the active key and must be able to sign: give its privateKey or secret.',
      ]);
      expect(problemsOf({ alg: 'EdDSA', publicKey: ed25519.publicKey }).join('\n')).toMatch(
        /signing is the active key and must be able to sign/,
      );
    });

    it('lists the problems of every entry at once', () => {
      const problems = problemsOf([
        { alg: 'RS256', privateKey: rsa1024.privateKey },
        { alg: 'HS256', secret: 'short' },
        { alg: 'ES256', privateKey: ed25519.privateKey },
      ]);
      expect(problems).toHaveLength(3);
      expect(problems[0]).toMatch(/^signing\[0\] is an RSA key of 1024 bits/);
      expect(problems[1]).toMatch(/^signing\[1\]\.secret must be at least 32 bytes/);
      expect(problems[2]).toMatch(/^signing\[2\] must be an EC P-256 key/);
    });

    it('signs with the first key and verifies with a verify-only publicKey after it', async () => {
      const previous = generateKeyPairSync('ed25519');
      const keys = ring([
        { alg: 'ES256', privateKey: p256.privateKey, kid: 'current' },
        { alg: 'EdDSA', publicKey: spki(previous.publicKey), kid: 'previous' },
      ]);
      expect(keys.active.kid).toBe('current');
      expect(keys.algorithms).toEqual(['ES256', 'EdDSA']);
      const old = keys.get('previous')!;
      expect(old.signingKey).toBeUndefined();
      const token = await new SignJWT({ sub: 'old' })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'previous' })
        .sign(previous.privateKey);
      const { payload } = await jwtVerify(token, old.verificationKey, { algorithms: ['EdDSA'] });
      expect(payload.sub).toBe('old');
      expect(keys.get('missing')).toBeUndefined();
    });

    it.each<[string, () => string | JsonWebKey | KeyObject]>([
      ['a SPKI PEM', () => spki(rsa.publicKey)],
      ['a public JWK object', () => jwkOf(rsa.publicKey)],
      ['a public JWK as JSON text', () => JSON.stringify(jwkOf(rsa.publicKey))],
      ['a public KeyObject', () => rsa.publicKey],
    ])('reads a verify-only publicKey given as %s', (_form, publicKey) => {
      const keys = ring([
        { alg: 'EdDSA', privateKey: ed25519.privateKey },
        { alg: 'RS256', publicKey: publicKey() },
      ]);
      const verifier = keys.keys[1];
      expect(verifier.signingKey).toBeUndefined();
      expect(verifier.verificationKey.equals(createPublicKey(rsa.privateKey))).toBe(true);
    });
  });

  describe('default kid', () => {
    it.each<[string, KeyObject, SigningKeyOption['alg']]>([
      ['Ed25519', ed25519.privateKey, 'EdDSA'],
      ['P-256', p256.privateKey, 'ES256'],
      ['RSA', rsa.privateKey, 'RS256'],
    ])("is jose's RFC 7638 thumbprint of the %s public key", async (_type, privateKey, alg) => {
      const keys = ring({ alg, privateKey });
      expect(keys.active.kid).toBe(await calculateJwkThumbprint(jwkOf(createPublicKey(privateKey)) as JWK));
    });

    it("is jose's thumbprint of the oct JWK for an HS256 secret", async () => {
      const secret = randomBytes(32);
      const keys = ring({ alg: 'HS256', secret });
      expect(keys.active.kid).toBe(
        await calculateJwkThumbprint({ kty: 'oct', k: secret.toString('base64url') }),
      );
    });

    it('is the configured kid when one is given', () => {
      expect(ring({ alg: 'EdDSA', privateKey: ed25519.privateKey, kid: 'key-2024.1_a' }).active.kid).toBe(
        'key-2024.1_a',
      );
    });
  });

  describe('jwks()', () => {
    const keys = () =>
      ring([
        { alg: 'RS256', privateKey: rsa.privateKey, kid: 'rsa' },
        { alg: 'ES256', privateKey: p256.privateKey, kid: 'ec' },
        { alg: 'EdDSA', privateKey: ed25519.privateKey, kid: 'ed' },
        { alg: 'HS256', secret: randomBytes(32), kid: 'hmac' },
        { alg: 'EdDSA', publicKey: generateKeyPairSync('ed25519').publicKey, kid: 'old' },
      ]);

    it('publishes the public members of every asymmetric key and nothing else', () => {
      const rsaJwk = jwkOf(rsa.publicKey);
      const ecJwk = jwkOf(p256.publicKey);
      const edJwk = jwkOf(ed25519.publicKey);
      expect(keys().jwks()).toEqual({
        keys: [
          { kty: 'RSA', n: rsaJwk.n, e: rsaJwk.e, kid: 'rsa', alg: 'RS256', use: 'sig' },
          { kty: 'EC', crv: 'P-256', x: ecJwk.x, y: ecJwk.y, kid: 'ec', alg: 'ES256', use: 'sig' },
          { kty: 'OKP', crv: 'Ed25519', x: edJwk.x, kid: 'ed', alg: 'EdDSA', use: 'sig' },
          expect.objectContaining({ kty: 'OKP', kid: 'old', alg: 'EdDSA', use: 'sig' }),
        ],
      });
    });

    it('never includes a private member or an HMAC key', () => {
      const published = keys().jwks().keys;
      const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y', 'n', 'e'];
      for (const jwk of published) {
        expect(Object.keys(jwk).filter((member) => !PUBLIC_MEMBERS.includes(member))).toEqual([]);
        expect(jwk.kty).not.toBe('oct');
        expect(jwk.alg).not.toBe('HS256');
      }
      expect(published.map((jwk) => jwk.kid)).not.toContain('hmac');
      const text = JSON.stringify(published);
      const rsaPrivate = jwkOf(rsa.privateKey);
      for (const value of [rsaPrivate.d, rsaPrivate.p, rsaPrivate.q, jwkOf(ed25519.privateKey).d]) {
        expect(text).not.toContain(value);
      }
    });

    it('is empty for a ring of one HMAC key', () => {
      expect(ring({ alg: 'HS256', secret: randomBytes(32) }).jwks()).toEqual({ keys: [] });
    });
  });

  describe('error messages', () => {
    it('never quote the key material they refuse', () => {
      const shortSecret = 'hunter2-short-secret';
      const brokenPem = pkcs8(p256.privateKey).replace(/[A-Za-z](?=[A-Za-z0-9+/]{10}\n)/, '!');
      const brokenJwk = JSON.stringify({ ...jwkOf(p256.privateKey), crv: 'P-999' });
      const smallRsa = pkcs8(rsa1024.privateKey);
      const wrongType = pkcs8(ed25519.privateKey);
      const cases: [unknown, string][] = [
        [{ alg: 'HS256', secret: shortSecret }, shortSecret],
        [{ alg: 'ES256', privateKey: brokenPem }, brokenPem],
        [{ alg: 'ES256', privateKey: brokenJwk }, brokenJwk],
        [{ alg: 'RS256', privateKey: smallRsa }, smallRsa],
        [{ alg: 'ES256', privateKey: wrongType }, wrongType],
        [{ alg: 'HS256', secret: shortSecret, privateKey: wrongType }, wrongType],
      ];
      for (const [option, material] of cases) {
        const text = problemsOf(option).join('\n');
        // No line of a PEM, no JSON member value, no secret.
        const fragments = material
          .split(/[\n",:{}]/)
          .map((part) => part.trim())
          .filter((part) => part.length >= 8 && !part.startsWith('-----'));
        expect(fragments.length).toBeGreaterThan(0);
        for (const fragment of fragments) expect(text).not.toContain(fragment);
      }
    });

    it('do not quote a key given where the alg belongs', () => {
      // A deployment that swaps its SIGNING_ALG and SIGNING_KEY variables must not print the key at boot.
      const pem = pkcs8(ed25519.privateKey);
      const text = problemsOf({ alg: pem, privateKey: pem }).join('\n');
      expect(text).toMatch(/alg must be one of EdDSA, ES256, RS256, HS256/);
      for (const line of pem.split('\n').filter((part) => part.length >= 8 && !part.startsWith('-----'))) {
        expect(text).not.toContain(line);
      }
    });
  });
});
