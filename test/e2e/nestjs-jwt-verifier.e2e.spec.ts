import { createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import request from 'supertest';
import { startApp, type RunningApp } from './support/app-starter.js';
import { ADAPTERS, sqlite } from './support/databases.js';
import { basic, form, mintToken, REVOKE_PATH } from './support/oauth.js';

const JWKS_PATH = '/.well-known/jwks.json';

/** What a downstream service does once: fetch the JWKS and turn the key of `kid` into a PEM for JwtService. */
async function publicKeyPem(url: string, kid: string): Promise<string> {
  const res = await request(url).get(JWKS_PATH).expect(200);
  const jwk = (res.body as { keys: (JsonWebKey & { kid: string })[] }).keys.find((key) => key.kid === kid);
  if (!jwk) throw new Error(`no key ${kid} in the JWKS`);
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
}

function kidOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { kid: string }).kid;
}

const PAIRS: Record<'ES256' | 'RS256', { privateKey: KeyObject }> = {
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
};

/**
 * A service that already verifies JWTs with `@nestjs/jwt` verifies the token endpoint's ES256 and RS256
 * tokens with the public key from the JWKS, checking issuer and audience. It does not see the denylist: a
 * revoked token passes it until it expires, while the module's guard refuses it at once.
 */
describe.each(
  ADAPTERS.flatMap((adapter) => (['ES256', 'RS256'] as const).map((alg) => [alg, adapter] as const)),
)('@nestjs/jwt verifying %s tokens (%s)', (alg, adapter) => {
  let running: RunningApp;
  const jwt = new JwtService();

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh(), {
      signing: { alg, privateKey: PAIRS[alg].privateKey },
    });
  });

  afterAll(async () => {
    await running?.close();
  });

  it('verifies a minted token with the JWKS key, issuer and audience, and refuses another audience', async () => {
    const key = await running.keys.create({ name: 'client', scopes: ['orders:read'] });
    const token = await mintToken(running.url, { id: key.id, key: key.key });
    const publicKey = await publicKeyPem(running.url, kidOf(token));
    const claims = await jwt.verifyAsync<{ sub: string; client_id: string; scope: string }>(token, {
      publicKey,
      algorithms: [alg],
      issuer: running.issuer,
      audience: running.issuer,
    });
    expect(claims).toMatchObject({ client_id: key.id, scope: 'orders:read' });
    await expect(
      jwt.verifyAsync(token, {
        publicKey,
        algorithms: [alg],
        issuer: running.issuer,
        audience: 'https://elsewhere',
      }),
    ).rejects.toThrow(/audience/);
    const tampered = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    await expect(jwt.verifyAsync(tampered, { publicKey, algorithms: [alg] })).rejects.toThrow();
  });

  it('still accepts a revoked token, which the module guard refuses', async () => {
    const key = await running.keys.create({ name: 'revoker', scopes: ['orders:read'] });
    const token = await mintToken(running.url, { id: key.id, key: key.key });
    await request(running.url)
      .post(REVOKE_PATH)
      .set('Authorization', basic(key.id, key.key))
      .type('form')
      .send(form({ token }))
      .expect(200);
    await request(running.url).get('/orders').set('Authorization', `Bearer ${token}`).expect(401);
    const publicKey = await publicKeyPem(running.url, kidOf(token));
    await expect(
      jwt.verifyAsync(token, {
        publicKey,
        algorithms: [alg],
        issuer: running.issuer,
        audience: running.issuer,
      }),
    ).resolves.toMatchObject({ client_id: key.id });
  });
});

describe('@nestjs/jwt and EdDSA tokens', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp('express', await sqlite.fresh());
  });

  afterAll(async () => {
    await running?.close();
  });

  it('cannot verify them: jsonwebtoken has no EdDSA, which is why the README points to jose', async () => {
    const key = await running.keys.create({ name: 'client', scopes: ['orders:read'] });
    const token = await mintToken(running.url, { id: key.id, key: key.key });
    const publicKey = await publicKeyPem(running.url, kidOf(token));
    await expect(new JwtService().verifyAsync(token, { publicKey })).rejects.toThrow();
  });
});
