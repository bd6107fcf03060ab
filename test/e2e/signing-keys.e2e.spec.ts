import {
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import request from 'supertest';
import type { CreatedApiKey, SigningKeyOption } from 'nestjs-keybridge';
import { sqlite } from './support/databases.js';
import { decodeJwt, encodeJwt, mintToken } from './support/oauth.js';
import { DEFAULT_ISSUER as ISSUER, createApp, startApp, type RunningApp } from './support/app-starter.js';
import { TEST_PEPPER } from './support/test-secrets.js';
import { withToken } from './support/guarded.requests.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

function privatePem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function publicPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'spki' }).toString();
}

/** A stretch of a PEM's base64 body: if an error message quoted the key, it would contain this. */
function pemBody(pem: string): string {
  return pem.split('\n').slice(1, -2).join('').slice(0, 40);
}

interface AlgorithmCase {
  alg: 'EdDSA' | 'ES256' | 'RS256' | 'HS256';
  signing: SigningKeyOption;
  /** What a relying party would verify the token with. */
  verificationKey: KeyObject;
  /** The public JWK members expected in the JWKS, or undefined for HS256 (nothing is published). */
  jwk?: Record<string, string>;
}

function asymmetricCase(
  alg: 'EdDSA' | 'ES256' | 'RS256',
  pair: { privateKey: KeyObject; publicKey: KeyObject },
  members: string[],
): AlgorithmCase {
  const exported = pair.publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return {
    alg,
    signing: { alg, privateKey: privatePem(pair.privateKey) },
    verificationKey: pair.publicKey,
    jwk: Object.fromEntries(members.map((m) => [m, exported[m]])),
  };
}

const HMAC_SECRET = randomBytes(32).toString('base64url');

const CASES: [string, AlgorithmCase][] = [
  ['EdDSA', asymmetricCase('EdDSA', generateKeyPairSync('ed25519'), ['kty', 'crv', 'x'])],
  [
    'ES256',
    asymmetricCase('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }), ['kty', 'crv', 'x', 'y']),
  ],
  ['RS256', asymmetricCase('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }), ['kty', 'n', 'e'])],
  [
    'HS256',
    {
      alg: 'HS256',
      signing: { alg: 'HS256', secret: HMAC_SECRET },
      verificationKey: createSecretKey(Buffer.from(HMAC_SECRET, 'utf8')),
    },
  ],
];

describe.each(CASES)('tokens signed with %s', (_name, algorithm) => {
  let running: RunningApp;
  let client: CreatedApiKey;

  beforeAll(async () => {
    running = await startApp('express', await sqlite.fresh(), { signing: algorithm.signing });
    client = await running.keys.create({ name: 'shop', scopes: ['orders:read'], subject: 'app:shop' });
  });

  afterAll(async () => {
    await running.close();
  });

  it(`signs with ${algorithm.alg}, and the app accepts its own tokens`, async () => {
    const token = await mintToken(running.url, client);
    expect(decodeJwt(token).header).toEqual({ alg: algorithm.alg, typ: 'at+jwt', kid: expect.any(String) });
    await withToken(running, token).expect(200, { orders: [] });
  });

  it('produces a signature a relying party verifies with the key alone', async () => {
    const token = await mintToken(running.url, client);
    const { payload } = await jwtVerify(token, algorithm.verificationKey, {
      algorithms: [algorithm.alg],
      issuer: ISSUER,
      audience: ISSUER,
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: 'app:shop', client_id: client.id, scope: 'orders:read' });
  });

  it('refuses one of its tokens once its signature is altered', async () => {
    const token = await mintToken(running.url, client);
    const [header, payload, signature] = token.split('.');
    const flipped = signature.slice(0, 5) + (signature[5] === 'A' ? 'B' : 'A') + signature.slice(6);
    const res = await withToken(running, `${header}.${payload}.${flipped}`).expect(401);
    expect(res.body).toMatchObject({ code: 'invalid_token' });
  });

  if (algorithm.jwk) {
    const expectedJwk = algorithm.jwk;
    it('publishes the public key in the JWKS, under the kid of its tokens', async () => {
      const { header } = decodeJwt(await mintToken(running.url, client));
      const res = await request(running.url).get('/.well-known/jwks.json').expect(200);
      expect(res.body).toEqual({
        keys: [{ ...expectedJwk, kid: header.kid, alg: algorithm.alg, use: 'sig' }],
      });
      for (const member of PRIVATE_MEMBERS) expect(res.body.keys[0]).not.toHaveProperty(member);
    });

    it('names the JWKS and the algorithm in the server metadata', async () => {
      const res = await request(running.url).get('/.well-known/oauth-authorization-server').expect(200);
      expect(res.body.jwks_uri).toBe(`${ISSUER}/.well-known/jwks.json`);
      expect(res.body.access_token_signing_alg_values_supported).toEqual([algorithm.alg]);
    });
  } else {
    it('publishes an empty JWKS: a shared secret is never published', async () => {
      const res = await request(running.url).get('/.well-known/jwks.json').expect(200);
      expect(res.body).toEqual({ keys: [] });
      expect(res.text).not.toContain(HMAC_SECRET);
      expect(res.text).not.toContain(Buffer.from(HMAC_SECRET).toString('base64url'));
    });

    it('leaves jwks_uri out of the server metadata', async () => {
      const res = await request(running.url).get('/.well-known/oauth-authorization-server').expect(200);
      expect(res.body).not.toHaveProperty('jwks_uri');
      expect(res.body.access_token_signing_alg_values_supported).toEqual(['HS256']);
      expect(res.text).not.toContain(HMAC_SECRET);
    });
  }
});

/** Tokens signed by the app's own RS256 key (the test holds it) or forged around it: only the real ones pass. */
describe('strict token verification (RS256)', () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let running: RunningApp;
  let client: CreatedApiKey;
  let kid: string;

  beforeAll(async () => {
    running = await startApp('express', await sqlite.fresh(), {
      signing: { alg: 'RS256', privateKey: pair.privateKey },
    });
    client = await running.keys.create({ name: 'shop', scopes: ['orders:read'], subject: 'app:shop' });
    kid = decodeJwt(await mintToken(running.url, client)).header.kid as string;
  });

  afterAll(async () => {
    await running.close();
  });

  function claims(overrides: Record<string, unknown> = {}) {
    const iat = Math.floor(running.clock.now / 1000);
    return {
      iss: ISSUER,
      sub: 'app:shop',
      aud: ISSUER,
      iat,
      exp: iat + 600,
      jti: 'forgedjti0123456789abc',
      client_id: client.id,
      scope: 'orders:read',
      ...overrides,
    };
  }

  function sign(
    header: Record<string, unknown>,
    payload: Record<string, unknown>,
    key: KeyObject = pair.privateKey,
  ) {
    return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
  }

  async function expectInvalid(token: string, reason: string | RegExp): Promise<void> {
    const res = await withToken(running, token).expect(401);
    expect(res.body).toMatchObject({ code: 'invalid_token' });
    expect(running.events).toContainEqual(
      expect.objectContaining({
        type: 'auth.failed',
        reason: typeof reason === 'string' ? `token_${reason}` : expect.stringMatching(reason),
      }),
    );
  }

  it('accepts a token the test signs with the app key, so the refusals below are about one change each', async () => {
    await withToken(running, await sign({ alg: 'RS256', typ: 'at+jwt', kid }, claims())).expect(200);
  });

  it('refuses alg none', async () => {
    await expectInvalid(
      encodeJwt({ alg: 'none', typ: 'at+jwt', kid }, claims()),
      /^token_(malformed|algorithm)$/,
    );
  });

  it('refuses alg none even with something in the signature part', async () => {
    await expectInvalid(
      encodeJwt({ alg: 'none', typ: 'at+jwt', kid }, claims(), 'c2lnbmF0dXJl'),
      'algorithm',
    );
  });

  it('refuses HS256 signed with the RSA public key as the secret (key confusion)', async () => {
    const secret = createSecretKey(Buffer.from(publicPem(pair.publicKey)));
    await expectInvalid(await sign({ alg: 'HS256', typ: 'at+jwt', kid }, claims(), secret), 'algorithm');
  });

  it('refuses a token that carries its own key in a jwk header', async () => {
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = createPublicKey(attacker.privateKey).export({ format: 'jwk' });
    await expectInvalid(
      await sign({ alg: 'RS256', typ: 'at+jwt', kid, jwk }, claims(), attacker.privateKey),
      'header',
    );
  });

  it('refuses a token that points at a key URL in a jku header', async () => {
    await expectInvalid(
      await sign({ alg: 'RS256', typ: 'at+jwt', kid, jku: 'https://attacker.example/jwks.json' }, claims()),
      'header',
    );
  });

  it('refuses typ JWT', async () => {
    await expectInvalid(await sign({ alg: 'RS256', typ: 'JWT', kid }, claims()), 'header');
  });

  it('refuses another issuer', async () => {
    await expectInvalid(
      await sign({ alg: 'RS256', typ: 'at+jwt', kid }, claims({ iss: 'https://elsewhere.example' })),
      'claims',
    );
  });

  it('refuses another audience', async () => {
    await expectInvalid(
      await sign({ alg: 'RS256', typ: 'at+jwt', kid }, claims({ aud: 'https://elsewhere.example' })),
      'claims',
    );
  });

  it('refuses a token without client_id', async () => {
    await expectInvalid(
      await sign({ alg: 'RS256', typ: 'at+jwt', kid }, claims({ client_id: undefined })),
      'claims',
    );
  });

  it('refuses a token that is not yet valid', async () => {
    const nbf = Math.floor(running.clock.now / 1000) + 120;
    await expectInvalid(await sign({ alg: 'RS256', typ: 'at+jwt', kid }, claims({ nbf })), 'not_yet_valid');
  });
});

describe('signing key rotation', () => {
  const keyA = generateKeyPairSync('ed25519');
  const keyB = generateKeyPairSync('ed25519');
  let databaseUrl: string;
  let first: RunningApp;
  let second: RunningApp;
  let client: CreatedApiKey;
  let oldToken: string;
  let kidA: string;

  beforeAll(async () => {
    databaseUrl = await sqlite.fresh();
    first = await startApp('express', databaseUrl, {
      signing: { alg: 'EdDSA', privateKey: privatePem(keyA.privateKey) },
    });
    client = await first.keys.create({ name: 'shop', scopes: ['orders:read'], subject: 'app:shop' });
    oldToken = await mintToken(first.url, client);
    kidA = decodeJwt(oldToken).header.kid as string;
    second = await startApp('express', databaseUrl, {
      signing: [
        { alg: 'EdDSA', privateKey: privatePem(keyB.privateKey) },
        { alg: 'EdDSA', publicKey: publicPem(keyA.publicKey) },
      ],
    });
  });

  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('accepts a token signed by the previous key', async () => {
    await withToken(second, oldToken).expect(200, { orders: [] });
  });

  it("signs new tokens with the new key's kid", async () => {
    const token = await mintToken(second.url, client);
    const kidB = decodeJwt(token).header.kid;
    expect(kidB).not.toBe(kidA);
    await jwtVerify(token, keyB.publicKey, { algorithms: ['EdDSA'], typ: 'at+jwt' });
    await withToken(second, token).expect(200);
  });

  it('lists both keys in the JWKS, the signing one first', async () => {
    const token = await mintToken(second.url, client);
    const res = await request(second.url).get('/.well-known/jwks.json').expect(200);
    expect(res.body.keys.map((k: { kid: string }) => k.kid)).toEqual([decodeJwt(token).header.kid, kidA]);
    for (const jwk of res.body.keys) {
      expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
    }
  });

  it('is not accepted by the app that only knows the old key', async () => {
    const token = await mintToken(second.url, client);
    const res = await withToken(first, token).expect(401);
    expect(res.body).toMatchObject({ code: 'invalid_token' });
  });
});

describe('boot refusals for signing keys', () => {
  const previousEnv = process.env.NODE_ENV;

  afterEach(() => {
    process.env.NODE_ENV = previousEnv;
  });

  async function boot(signing: SigningKeyOption | SigningKeyOption[] | undefined) {
    const { app } = await createApp(
      'express',
      await sqlite.fresh(),
      { signing },
      { issuer: 'https://api.example.com', logger: false },
    );
    return app;
  }

  /** Expects the app not to start, with a message matching `problem` that quotes none of `material`. */
  async function expectRefusal(
    starting: Promise<{ close(): Promise<void> }>,
    problem: RegExp,
    material: readonly string[],
  ): Promise<string> {
    const outcome = await starting.then(
      async (app) => {
        await app.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(Error);
    const message = (outcome as Error).message;
    expect(message).toMatch(problem);
    for (const secret of material) expect(message).not.toContain(secret);
    return message;
  }

  it('refuses an empty HMAC secret', async () => {
    await expectRefusal(boot({ alg: 'HS256', secret: '' }), /signing\.secret must be at least 32 bytes/, []);
  });

  it('refuses a 31-byte HMAC secret without quoting it', async () => {
    const secret = randomBytes(31).toString('hex').slice(0, 31);
    await expectRefusal(boot({ alg: 'HS256', secret }), /signing\.secret must be at least 32 bytes/, [
      secret,
    ]);
  });

  it('refuses a 1024-bit RSA key without quoting it', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privatePem(privateKey);
    await expectRefusal(boot({ alg: 'RS256', privateKey: pem }), /1024 bits.*at least 2048/, [pemBody(pem)]);
  });

  it('refuses an EC key for EdDSA without quoting it', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privatePem(privateKey);
    await expectRefusal(boot({ alg: 'EdDSA', privateKey: pem }), /must be an Ed25519 key for EdDSA/, [
      pemBody(pem),
    ]);
  });

  it('refuses a key text it cannot read without quoting it', async () => {
    const garbled = privatePem(generateKeyPairSync('ed25519').privateKey).replace(/[A-M]/g, 'Z');
    await expectRefusal(boot({ alg: 'EdDSA', privateKey: garbled }), /could not be read/, [pemBody(garbled)]);
  });

  it('refuses a list whose first key cannot sign', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    await expectRefusal(
      boot([{ alg: 'EdDSA', publicKey: publicPem(publicKey) }]),
      /signing\[0\] is the active key and must be able to sign/,
      [],
    );
  });

  it('refuses to start with NODE_ENV=production and no signing key', async () => {
    process.env.NODE_ENV = 'production';
    const message = await expectRefusal(boot(undefined), /signing is required when NODE_ENV=production/, [
      TEST_PEPPER,
    ]);
    // The pepper and issuer are given: the signing key is the only problem named.
    expect(message).not.toMatch(/pepper/);
    expect(message).not.toMatch(/issuer/);
  });
});
