import 'reflect-metadata';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { resolveOptions } from '../../../lib/options/options.resolver.js';
import type { ApiKeyModuleOptions } from '../../../lib/interfaces/api-key-options.interface.js';
import { MemoryDenylistStore } from '../../../lib/denylist/memory-denylist.store.js';
import { TokenDenylist } from '../../../lib/denylist/token.denylist.js';
import { InvalidTokenError, type InvalidTokenReason } from '../../../lib/errors/index.js';
import { ApiKeyEntity } from '../../../lib/keys/api-key.entity.js';
import { VerifiedKey } from '../../../lib/keys/verified-key.js';
import { AccessTokenService } from '../../../lib/tokens/access-token.service.js';
import type { SigningKeyOption } from '../../../lib/interfaces/signing-key.interface.js';
import { VerifiedToken } from '../../../lib/tokens/verified-token.js';

const ISSUER = 'https://api.example.com';
const KEY_ID = 'key_3xAmPle0KeY1d';
const ED25519 = generateKeyPairSync('ed25519').privateKey;
/** A start time in the middle of a second, so every rounding to whole seconds shows. */
const START = 1_700_000_000_600;

let now: number;

beforeEach(() => {
  now = START;
});

/** The service over real options, a real denylist and a memory store, all on the test clock. */
function setup(options: ApiKeyModuleOptions = {}) {
  const resolved = resolveOptions(
    { issuer: ISSUER, signing: { alg: 'EdDSA', privateKey: ED25519 }, clock: () => now, ...options },
    { NODE_ENV: 'test' },
  );
  const denylist = new TokenDenylist(new MemoryDenylistStore(() => now), resolved);
  return { service: new AccessTokenService(resolved, denylist), denylist, resolved };
}

/** A verified key as the key service hands it over after authenticating an API key. */
function verifiedKey(overrides: Partial<ApiKeyEntity> = {}): VerifiedKey {
  return new VerifiedKey(
    Object.assign(new ApiKeyEntity(), {
      id: KEY_ID,
      keyHash: '0'.repeat(64),
      hint: 'kb_live_…abcd',
      environment: 'live',
      name: 'billing service',
      subject: 'app:billing',
      scopes: ['orders:read', 'orders:write'],
      metadata: null,
      allowedIps: null,
      allowedReferrers: null,
      rateLimit: null,
      remaining: null,
      quotaRefill: null,
      quotaRefilledAt: null,
      usageCount: 0,
      createdAt: new Date(START - 86_400_000),
      updatedAt: new Date(START - 86_400_000),
      expiresAt: null,
      lastUsedAt: null,
      disabledAt: null,
      revokedAt: null,
      revokedReason: null,
      rotatedFromId: null,
      rotatedToId: null,
      graceEndsAt: null,
      ...overrides,
    }),
  );
}

/** The reason of the `InvalidTokenError` that `run` throws or rejects with. */
async function refusal(run: () => unknown): Promise<InvalidTokenError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError);
    return error as InvalidTokenError;
  }
  throw new Error('the token was accepted');
}

async function reasonOf(run: () => unknown): Promise<InvalidTokenReason> {
  return (await refusal(run)).reason;
}

describe('AccessTokenService', () => {
  describe('mint and authenticate', () => {
    it('mints an RFC 9068 token whose claims authenticate back into the principal', async () => {
      const { service, resolved } = setup();
      const minted = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      const iat = Math.floor(START / 1000);
      expect(decodeProtectedHeader(minted.accessToken)).toEqual({
        alg: 'EdDSA',
        kid: resolved.tokens.keys.active.kid,
        typ: 'at+jwt',
      });
      const claims = decodeJwt(minted.accessToken);
      expect(claims).toEqual({
        iss: ISSUER,
        sub: 'app:billing',
        aud: ISSUER,
        exp: iat + 900,
        iat,
        jti: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        client_id: KEY_ID,
        scope: 'orders:read',
      });
      expect(minted.expiresIn).toBe(900);
      expect(minted.scopes).toEqual(['orders:read']);
      expect(minted.claims).toEqual(claims);

      const verified = await service.authenticate(minted.accessToken);
      expect(verified).toBeInstanceOf(VerifiedToken);
      expect(verified.principal).toEqual({
        type: 'access_token',
        keyId: KEY_ID,
        subject: 'app:billing',
        scopes: ['orders:read'],
        tokenId: claims.jti,
        audience: [ISSUER],
        expiresAt: new Date((iat + 900) * 1000),
      });
      expect(verified.scopes.grants('orders:read')).toBe(true);
      expect(verified.scopes.grants('orders:write')).toBe(false);
    });

    it('mints a token any JOSE library verifies with the published public key', async () => {
      const { service, resolved } = setup();
      const { accessToken } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      const jwk = resolved.tokens.keys.jwks().keys[0];
      const { payload } = await jwtVerify(accessToken, createPublicKey({ key: { ...jwk }, format: 'jwk' }), {
        issuer: ISSUER,
        audience: ISSUER,
        typ: 'at+jwt',
        currentDate: new Date(now),
      });
      expect(payload.client_id).toBe(KEY_ID);
    });

    it.each<[string, SigningKeyOption]>([
      ['ES256', { alg: 'ES256', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }],
      ['RS256', { alg: 'RS256', privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }],
      ['HS256', { alg: 'HS256', secret: randomBytes(32) }],
    ])('round-trips a token signed with %s', async (alg, signing) => {
      const { service } = setup({ signing });
      const { accessToken } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      expect(decodeProtectedHeader(accessToken).alg).toBe(alg);
      expect((await service.authenticate(accessToken)).keyId).toBe(KEY_ID);
    });

    it('names several audiences as an aud array', async () => {
      const audiences = [ISSUER, 'https://reports.example.com'];
      const { service } = setup({ audience: audiences });
      const { accessToken } = await service.mint(verifiedKey(), ['orders:read'], audiences);
      expect(decodeJwt(accessToken).aud).toEqual(audiences);
      expect((await service.authenticate(accessToken)).principal.audience).toEqual(audiences);
    });

    it('accepts a token minted without scopes', async () => {
      const { service } = setup();
      const { accessToken } = await service.mint(verifiedKey({ scopes: [] }), [], [ISSUER]);
      expect(decodeJwt(accessToken).scope).toBe('');
      expect((await service.authenticate(accessToken)).principal.scopes).toEqual([]);
    });

    it('gives every token its own jti', async () => {
      const { service } = setup();
      const first = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      const second = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      expect(first.claims.jti).not.toBe(second.claims.jti);
    });

    it('refuses a token signed by a key it was not configured with', async () => {
      const other = setup({
        signing: { alg: 'EdDSA', privateKey: generateKeyPairSync('ed25519').privateKey },
      });
      const { accessToken } = await other.service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      expect(await reasonOf(() => setup().service.authenticate(accessToken))).toBe('kid');
    });

    it('refuses a token signed by another key under its own kid', async () => {
      const { service, resolved } = setup();
      const kid = resolved.tokens.keys.active.kid;
      const impostor = setup({
        signing: { alg: 'EdDSA', privateKey: generateKeyPairSync('ed25519').privateKey, kid },
      });
      const { accessToken } = await impostor.service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      expect(await reasonOf(() => service.authenticate(accessToken))).toBe('signature');
    });

    it('inspects a valid token into its claims and anything else into undefined', async () => {
      const { service } = setup();
      const { accessToken, claims } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      expect((await service.inspect(accessToken))?.claims).toEqual(claims);
      expect(await service.inspect('not.a.token')).toBeUndefined();
      expect(await service.inspect(`${accessToken.slice(0, -4)}AAAA`)).toBeUndefined();
    });
  });

  describe('the verified-token cache', () => {
    it('answers a token seen before synchronously, with the same verified token', async () => {
      const { service } = setup();
      const { accessToken } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      const first = service.authenticate(accessToken);
      expect(first).toBeInstanceOf(Promise);
      const verified = await first;
      const second = service.authenticate(accessToken);
      expect(second).not.toBeInstanceOf(Promise);
      expect(second).toBe(verified);
    });

    it('does not answer a token with the cached signature but another payload from the cache', async () => {
      const { service } = setup();
      const { accessToken } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      await service.authenticate(accessToken);
      const [header, payload, signature] = accessToken.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >;
      const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'orders:read orders:write' })).toString(
        'base64url',
      );
      const forged = `${header}.${widened}.${signature}`;
      const result = service.authenticate(forged);
      expect(result).toBeInstanceOf(Promise);
      await expect(result).rejects.toMatchObject({ reason: 'signature' });
      // The genuine token is still answered from the cache.
      expect(service.authenticate(accessToken)).not.toBeInstanceOf(Promise);
    });

    it('verifies every time with tokenCache: false', async () => {
      const { service } = setup({ tokenCache: false });
      const { accessToken } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      for (let i = 0; i < 3; i++) {
        const result = service.authenticate(accessToken);
        expect(result).toBeInstanceOf(Promise);
        expect((await result).keyId).toBe(KEY_ID);
      }
    });

    it('still checks the denylist on a cache hit: a revoked token is refused at once', async () => {
      const { service } = setup();
      const { accessToken } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      const other = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      const verified = await service.authenticate(accessToken);
      await service.authenticate(other.accessToken);
      expect(service.authenticate(accessToken)).toBe(verified);

      await service.revoke(verified);
      // Synchronously, from the cache, yet refused.
      expect(() => service.authenticate(accessToken)).toThrow(InvalidTokenError);
      const error = await refusal(() => service.authenticate(accessToken));
      expect(error.reason).toBe('revoked');
      expect(error.keyId).toBe(KEY_ID);
      expect(service.authenticate(other.accessToken)).toBeInstanceOf(VerifiedToken);
    });

    it('still checks the denylist on a cache hit: a revoked key takes its tokens with it', async () => {
      const { service, denylist } = setup();
      const { accessToken } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      await service.authenticate(accessToken);
      await denylist.revokeKey(KEY_ID);
      expect(await reasonOf(() => service.authenticate(accessToken))).toBe('key_revoked');
    });

    it('refuses a revoked token that was never cached', async () => {
      const { service } = setup({ tokenCache: false });
      const { accessToken } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      await service.revoke(await service.authenticate(accessToken));
      expect(await reasonOf(() => service.authenticate(accessToken))).toBe('revoked');
    });

    it('remembers a revocation until the token could no longer be accepted anyway', async () => {
      const { service } = setup();
      const { accessToken, claims } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      await service.revoke(await service.authenticate(accessToken));
      now = claims.exp * 1000 + 4999;
      expect(await reasonOf(() => service.authenticate(accessToken))).toBe('revoked');
    });
  });

  describe('expiry on the injected clock', () => {
    it.each([
      ['read fresh', { tokenCache: false as const }, false],
      ['cached before', {}, true],
    ])(
      'accepts a token %s until exp plus the 5 s tolerance, then refuses it',
      async (_mode, options, warm) => {
        const { service } = setup(options);
        const { accessToken, claims } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
        if (warm) await service.authenticate(accessToken);
        now = claims.exp * 1000 + 4999;
        expect((await service.authenticate(accessToken)).keyId).toBe(KEY_ID);
        now = claims.exp * 1000 + 5000;
        const error = await refusal(() => service.authenticate(accessToken));
        expect(error.reason).toBe('expired');
        expect(error.message).toBe('The access token has expired.');
      },
    );

    it('applies a configured clock tolerance of zero', async () => {
      const { service } = setup({ clockTolerance: '0s', tokenCache: false });
      const { accessToken, claims } = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      now = claims.exp * 1000 - 1;
      await service.authenticate(accessToken);
      now = claims.exp * 1000;
      expect(await reasonOf(() => service.authenticate(accessToken))).toBe('expired');
    });

    it('lives tokenTtl', async () => {
      const { service } = setup({ tokenTtl: '1m' });
      const minted = await service.mint(verifiedKey(), ['orders:read'], [ISSUER]);
      expect(minted.expiresIn).toBe(60);
      expect(minted.claims.exp - minted.claims.iat).toBe(60);
    });
  });

  describe("capped at the key's deadline", () => {
    it('never outlives the key it was minted from', async () => {
      const { service } = setup();
      const expiresAt = new Date(START + 60_000);
      const minted = await service.mint(verifiedKey({ expiresAt }), ['orders:read'], [ISSUER]);
      expect(minted.claims.exp).toBe(Math.floor(expiresAt.getTime() / 1000));
      expect(minted.claims.exp * 1000).toBeLessThanOrEqual(expiresAt.getTime());
      expect(minted.expiresIn).toBe(minted.claims.exp - minted.claims.iat);
      expect(minted.expiresIn).toBeLessThanOrEqual(60);
    });

    it('never outlives the end of a rotation grace period', async () => {
      const { service } = setup();
      const graceEndsAt = new Date(START + 30_000);
      const minted = await service.mint(
        verifiedKey({ expiresAt: new Date(START + 3_600_000), graceEndsAt }),
        ['orders:read'],
        [ISSUER],
      );
      expect(minted.claims.exp).toBe(Math.floor(graceEndsAt.getTime() / 1000));
    });

    it('is not lengthened by a key that lives longer than tokenTtl', async () => {
      const { service } = setup();
      const minted = await service.mint(
        verifiedKey({ expiresAt: new Date(START + 86_400_000) }),
        ['orders:read'],
        [ISSUER],
      );
      expect(minted.expiresIn).toBe(900);
    });

    it('is refused once the key deadline it was capped at has passed', async () => {
      const { service } = setup();
      const { accessToken, claims } = await service.mint(
        verifiedKey({ expiresAt: new Date(START + 60_000) }),
        ['orders:read'],
        [ISSUER],
      );
      await service.authenticate(accessToken);
      now = claims.exp * 1000 + 5000;
      expect(await reasonOf(() => service.authenticate(accessToken))).toBe('expired');
    });
  });
});
