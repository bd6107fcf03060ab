import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { rootCertificates } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt, exportJWK, SignJWT, UnsecuredJWT, type JWK } from 'jose';
import request from 'supertest';
import type { CreatedApiKey, InvalidTokenReason, KeybridgeEvent } from 'nestjs-keybridge';
import { ADAPTERS, sqlite } from './support/databases.js';
import { rawRequest } from './support/raw-http.js';
import { expectInvalidToken as expectInvalidTokenAnswer } from './support/oauth.js';
import { DEFAULT_ISSUER as ISSUER, startApp, type RunningApp } from './support/app-starter.js';
import { TEST_SIGNING_KEY } from './support/test-secrets.js';

const APP_KEY = createPrivateKey(TEST_SIGNING_KEY);
/** An attacker's own key pair: whatever it signs must never be trusted, whatever the header says. */
const ATTACKER = generateKeyPairSync('ed25519');
const JUNK_SIGNATURE = Buffer.from('not a signature at all').toString('base64url');

type Header = Record<string, unknown>;
type Claims = Record<string, unknown>;

function segment(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A compact JWS written by hand, signed with `key` as its own type dictates (or left with `signature`). */
function forge(header: Header, claims: Claims | string, key?: KeyObject, signature = ''): string {
  const input = `${segment(header)}.${segment(claims)}`;
  if (!key) return `${input}.${signature}`;
  const data = Buffer.from(input);
  let bytes: Buffer;
  if (key.type === 'secret') bytes = createHmac('sha256', key).update(data).digest();
  else if (key.asymmetricKeyType === 'ed25519') bytes = sign(null, data, key);
  else if (key.asymmetricKeyType === 'ec') bytes = sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  else bytes = sign('sha256', data, key);
  return `${input}.${bytes.toString('base64url')}`;
}

/** A token minted at the token endpoint with the key's credentials (client_secret_basic). */
async function mint(target: RunningApp, key: CreatedApiKey, scope?: string): Promise<string> {
  const res = await request(target.url)
    .post('/oauth/token')
    .auth(key.id, key.key)
    .type('form')
    .send({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

async function kidOf(target: RunningApp): Promise<string> {
  const res = await request(target.url).get('/.well-known/jwks.json').expect(200);
  return res.body.keys[0].kid as string;
}

function tokenFailures(target: RunningApp, since: number): KeybridgeEvent[] {
  return target.events.slice(since).filter((event) => event.type === 'auth.failed');
}

/**
 * Presents `token` on `GET /orders` and expects the RFC 6750 refusal: 401 `invalid_token`, the Bearer
 * challenge carrying the same description, and one `auth.failed` event with `token_<reason>`.
 */
async function expectInvalidToken(
  target: RunningApp,
  token: string,
  reason: InvalidTokenReason,
): Promise<request.Response> {
  const since = target.events.length;
  const res = await request(target.url).get('/orders').set('Authorization', `Bearer ${token}`);
  expectInvalidTokenAnswer(res);
  expect(tokenFailures(target, since)).toEqual([
    expect.objectContaining({ type: 'auth.failed', reason: `token_${reason}` }),
  ]);
  return res;
}

/** Counts every request made to it: a verifier that followed `jku` or `x5u` would show up here. */
const keyServerRequests: string[] = [];
let keyServer: Server;
let keyServerUrl: string;
let attackerJwk: JWK;

beforeAll(async () => {
  attackerJwk = { ...(await exportJWK(ATTACKER.publicKey)), kid: 'attacker', alg: 'EdDSA', use: 'sig' };
  keyServer = createServer((req, res) => {
    keyServerRequests.push(`${req.method} ${req.url}`);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ keys: [attackerJwk] }));
  });
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  keyServerUrl = `http://127.0.0.1:${(keyServer.address() as { port: number }).port}`;
  // The counter works: a request made on purpose is seen, then forgotten.
  await fetch(`${keyServerUrl}/probe`).then((res) => res.json());
  expect(keyServerRequests).toEqual(['GET /probe']);
  keyServerRequests.length = 0;
});

afterAll(async () => {
  await new Promise<void>((resolve) => keyServer.close(() => resolve()));
});

describe.each(ADAPTERS)('hostile bearer tokens on GET /orders (sqlite on %s)', (adapter) => {
  let running: RunningApp;
  let reader: CreatedApiKey;
  let kid: string;

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh());
    reader = await running.keys.create({ name: 'reader', scopes: ['orders:read'], subject: 'app:reader' });
    kid = await kidOf(running);
  });

  afterAll(async () => {
    await running.close();
  });

  function header(overrides: Header = {}): Header {
    return { alg: 'EdDSA', typ: 'at+jwt', kid, ...overrides };
  }

  /** Claims the app would accept from its own key, with `overrides` applied and `omit` removed. */
  function claims(overrides: Claims = {}, omit: string[] = []): Claims {
    const now = Math.floor(running.clock.now / 1000);
    const all: Claims = {
      iss: ISSUER,
      sub: 'app:reader',
      aud: ISSUER,
      exp: now + 600,
      iat: now,
      jti: randomBytes(16).toString('base64url'),
      client_id: reader.id,
      scope: 'orders:read',
      ...overrides,
    };
    for (const name of omit) delete all[name];
    return all;
  }

  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  describe('controls', () => {
    it('accepts a token minted at the token endpoint', async () => {
      const token = await mint(running, reader);
      await request(running.url).get('/orders').set(bearer(token)).expect(200, { orders: [] });
    });

    it('accepts a hand-made token signed by the app key with every claim right', async () => {
      // The refusals below each change one thing of this token.
      const token = forge(header(), claims(), APP_KEY);
      await request(running.url).get('/orders').set(bearer(token)).expect(200, { orders: [] });
    });
  });

  describe('alg "none"', () => {
    it('refuses an unsecured JWT as jose writes it', async () => {
      const token = new UnsecuredJWT(claims()).encode();
      expect(token.endsWith('.')).toBe(true);
      await expectInvalidToken(running, token, 'malformed');
    });

    it.each(['none', 'None', 'NONE', 'nOnE'])('refuses alg "%s" with an empty signature', async (alg) => {
      await expectInvalidToken(running, forge(header({ alg }), claims()), 'malformed');
    });

    it.each(['none', 'None', 'NONE', 'nOnE'])('refuses alg "%s" with a junk signature', async (alg) => {
      await expectInvalidToken(
        running,
        forge(header({ alg }), claims(), undefined, JUNK_SIGNATURE),
        'algorithm',
      );
    });

    it('refuses alg "none" with the signature the app key would have made', async () => {
      const signed = forge(header(), claims(), APP_KEY);
      const [, payload, signature] = signed.split('.');
      await expectInvalidToken(
        running,
        `${segment(header({ alg: 'none' }))}.${payload}.${signature}`,
        'algorithm',
      );
    });
  });

  describe('HS256 signed with the public key of an EdDSA app', () => {
    const publicKey = createPublicKey(APP_KEY);

    it.each([
      ['its SPKI PEM text', () => Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }))],
      ['its SPKI DER bytes', () => publicKey.export({ type: 'spki', format: 'der' })],
      ['its JWK as JSON text', () => Buffer.from(JSON.stringify(publicKey.export({ format: 'jwk' })))],
      ['its raw x bytes', () => Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url')],
    ])('refuses %s as an HMAC secret', async (_form, secret) => {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
        .sign(new Uint8Array(secret()));
      await expectInvalidToken(running, token, 'algorithm');
    });
  });

  describe('HS256 signed with the public key of an RS256 app', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let rsApp: RunningApp;
    let rsReader: CreatedApiKey;
    let rsKid: string;
    let publishedJwk: JWK;

    beforeAll(async () => {
      rsApp = await startApp(adapter, await sqlite.fresh(), {
        signing: {
          alg: 'RS256',
          privateKey: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        },
      });
      rsReader = await rsApp.keys.create({ name: 'reader', scopes: ['orders:read'], subject: 'app:rs' });
      const jwks = await request(rsApp.url).get('/.well-known/jwks.json').expect(200);
      publishedJwk = jwks.body.keys[0];
      rsKid = publishedJwk.kid!;
    });

    afterAll(async () => {
      await rsApp.close();
    });

    function rsClaims(): Claims {
      const now = Math.floor(rsApp.clock.now / 1000);
      return {
        iss: ISSUER,
        sub: 'app:rs',
        aud: ISSUER,
        exp: now + 600,
        iat: now,
        jti: randomBytes(16).toString('base64url'),
        client_id: rsReader.id,
        scope: 'orders:read',
      };
    }

    it('accepts its own RS256 tokens (control)', async () => {
      const token = await mint(rsApp, rsReader);
      expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())).toMatchObject({
        alg: 'RS256',
        kid: rsKid,
      });
      await request(rsApp.url).get('/orders').set(bearer(token)).expect(200);
    });

    it.each([
      ['its SPKI PEM text', () => Buffer.from(rsa.publicKey.export({ type: 'spki', format: 'pem' }))],
      ['its PKCS#1 PEM text', () => Buffer.from(rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }))],
      ['its SPKI DER bytes', () => rsa.publicKey.export({ type: 'spki', format: 'der' })],
      ['its published JWK as JSON text', () => Buffer.from(JSON.stringify(publishedJwk))],
    ])('refuses %s as an HMAC secret', async (_form, secret) => {
      const token = await new SignJWT(rsClaims())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: rsKid })
        .sign(new Uint8Array(secret()));
      await expectInvalidToken(rsApp, token, 'algorithm');
    });
  });

  describe('an app that signs with RS256 and also verifies HS256 under another kid', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const secret = randomBytes(32);
    let mixed: RunningApp;
    let mixedReader: CreatedApiKey;
    let rsKid: string;

    beforeAll(async () => {
      mixed = await startApp(adapter, await sqlite.fresh(), {
        signing: [
          { alg: 'RS256', privateKey: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
          { alg: 'HS256', secret, kid: 'shared-hmac' },
        ],
      });
      mixedReader = await mixed.keys.create({ name: 'reader', scopes: ['orders:read'], subject: 'app:mix' });
      rsKid = await kidOf(mixed);
    });

    afterAll(async () => {
      await mixed.close();
    });

    function mixedClaims(): Claims {
      const now = Math.floor(mixed.clock.now / 1000);
      return {
        iss: ISSUER,
        sub: 'app:mix',
        aud: ISSUER,
        exp: now + 600,
        iat: now,
        jti: randomBytes(16).toString('base64url'),
        client_id: mixedReader.id,
        scope: 'orders:read',
      };
    }

    it('accepts an HS256 token under the HMAC kid (control)', async () => {
      const token = await new SignJWT(mixedClaims())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'shared-hmac' })
        .sign(secret);
      await request(mixed.url).get('/orders').set(bearer(token)).expect(200);
    });

    it('refuses HS256 under the RSA kid, signed with the RSA public key PEM', async () => {
      const token = await new SignJWT(mixedClaims())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: rsKid })
        .sign(new Uint8Array(Buffer.from(rsa.publicKey.export({ type: 'spki', format: 'pem' }))));
      await expectInvalidToken(mixed, token, 'algorithm');
    });

    it('refuses RS256 under the HMAC kid', async () => {
      const token = forge({ alg: 'RS256', typ: 'at+jwt', kid: 'shared-hmac' }, mixedClaims(), rsa.privateKey);
      await expectInvalidToken(mixed, token, 'algorithm');
    });
  });

  describe('keys offered in the header', () => {
    afterEach(async () => {
      // A verifier that fetched keys in the background would have done so by now.
      await sleep(100);
      expect(keyServerRequests).toEqual([]);
    });

    it('refuses an embedded jwk of the signing key pair, under the app kid', async () => {
      const token = forge(header({ jwk: attackerJwk }), claims(), ATTACKER.privateKey);
      await expectInvalidToken(running, token, 'header');
    });

    it('refuses an embedded jwk without a kid', async () => {
      const token = forge(header({ kid: undefined, jwk: attackerJwk }), claims(), ATTACKER.privateKey);
      await expectInvalidToken(running, token, 'header');
    });

    it('refuses jku without fetching it', async () => {
      const token = forge(
        header({ kid: 'attacker', jku: `${keyServerUrl}/jwks.json` }),
        claims(),
        ATTACKER.privateKey,
      );
      await expectInvalidToken(running, token, 'header');
    });

    it('refuses jku even under the app kid with the app signature', async () => {
      const token = forge(header({ jku: `${keyServerUrl}/jwks.json` }), claims(), APP_KEY);
      await expectInvalidToken(running, token, 'header');
    });

    it('refuses x5u without fetching it', async () => {
      const token = forge(
        header({ kid: 'attacker', x5u: `${keyServerUrl}/cert.pem` }),
        claims(),
        ATTACKER.privateKey,
      );
      await expectInvalidToken(running, token, 'header');
    });

    it('refuses an x5c certificate chain', async () => {
      const der = rootCertificates[0].replace(/-----[A-Z ]+-----|\s/g, '');
      const token = forge(header({ x5c: [der] }), claims(), ATTACKER.privateKey);
      await expectInvalidToken(running, token, 'header');
    });

    it('refuses x5c holding any base64 value', async () => {
      const token = forge(header({ x5c: [randomBytes(64).toString('base64')] }), claims(), APP_KEY);
      await expectInvalidToken(running, token, 'header');
    });

    it.each(['x5t', 'x5t#S256'])('refuses an %s thumbprint', async (name) => {
      const token = forge(header({ [name]: randomBytes(20).toString('base64url') }), claims(), APP_KEY);
      await expectInvalidToken(running, token, 'header');
    });
  });

  describe('odd kid values', () => {
    it('refuses a token without kid', async () => {
      await expectInvalidToken(running, forge(header({ kid: undefined }), claims(), APP_KEY), 'kid');
    });

    it('refuses a numeric kid', async () => {
      await expectInvalidToken(running, forge(header({ kid: 1 }), claims(), APP_KEY), 'kid');
    });

    it('refuses an empty kid', async () => {
      await expectInvalidToken(running, forge(header({ kid: '' }), claims(), APP_KEY), 'kid');
    });

    it('refuses a path-traversal kid', async () => {
      await expectInvalidToken(running, forge(header({ kid: '../../etc/passwd' }), claims(), APP_KEY), 'kid');
    });

    it('refuses a kid of 1000 characters', async () => {
      await expectInvalidToken(running, forge(header({ kid: 'k'.repeat(1000) }), claims(), APP_KEY), 'kid');
    });

    it('refuses an SQL-injection kid', async () => {
      const token = forge(
        header({ kid: "x' OR '1'='1'; DROP TABLE keybridge_api_keys; --" }),
        claims(),
        APP_KEY,
      );
      await expectInvalidToken(running, token, 'kid');
    });

    it('refuses a kid naming an Object prototype member', async () => {
      await expectInvalidToken(running, forge(header({ kid: '__proto__' }), claims(), APP_KEY), 'kid');
      await expectInvalidToken(running, forge(header({ kid: 'constructor' }), claims(), APP_KEY), 'kid');
    });

    it('refuses an unknown kid', async () => {
      await expectInvalidToken(running, forge(header({ kid: 'unknown-kid' }), claims(), APP_KEY), 'kid');
    });

    it('refuses the right kid with another algorithm (ES256)', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await expectInvalidToken(running, forge(header({ alg: 'ES256' }), claims(), privateKey), 'algorithm');
    });

    it('refuses a kid that is an object', async () => {
      await expectInvalidToken(running, forge(header({ kid: { $ne: null } }), claims(), APP_KEY), 'kid');
    });
  });

  describe('crit', () => {
    it('refuses crit ["exp"] with exp in the header', async () => {
      const exp = claims().exp;
      await expectInvalidToken(running, forge(header({ crit: ['exp'], exp }), claims(), APP_KEY), 'header');
    });

    it('refuses crit ["x-custom"] with that member present', async () => {
      const token = forge(header({ crit: ['x-custom'], 'x-custom': 'value' }), claims(), APP_KEY);
      await expectInvalidToken(running, token, 'header');
    });
  });

  describe('typ', () => {
    it('refuses a token without typ', async () => {
      await expectInvalidToken(running, forge(header({ typ: undefined }), claims(), APP_KEY), 'header');
    });

    it('refuses typ "JWT"', async () => {
      await expectInvalidToken(running, forge(header({ typ: 'JWT' }), claims(), APP_KEY), 'header');
    });

    it('refuses typ "application/jwt"', async () => {
      await expectInvalidToken(
        running,
        forge(header({ typ: 'application/jwt' }), claims(), APP_KEY),
        'header',
      );
    });

    it.each(['at+jwt', 'application/at+jwt', 'AT+JWT'])('accepts typ "%s"', async (typ) => {
      const token = forge(header({ typ }), claims(), APP_KEY);
      await request(running.url).get('/orders').set(bearer(token)).expect(200);
    });
  });

  describe('claims', () => {
    it('refuses a wrong iss', async () => {
      const token = forge(header(), claims({ iss: 'http://127.0.0.1.evil.example' }), APP_KEY);
      await expectInvalidToken(running, token, 'claims');
    });

    it('refuses a wrong aud', async () => {
      await expectInvalidToken(
        running,
        forge(header(), claims({ aud: 'https://other.example' }), APP_KEY),
        'claims',
      );
    });

    it('refuses a token without exp', async () => {
      await expectInvalidToken(running, forge(header(), claims({}, ['exp']), APP_KEY), 'claims');
    });

    it('refuses a token once the clock is past exp plus the 5 s tolerance, even after it was cached', async () => {
      const token = await mint(running, reader);
      await request(running.url).get('/orders').set(bearer(token)).expect(200);
      const { exp } = decodeJwt(token);
      const saved = running.clock.now;
      running.clock.now = exp! * 1000 + 5000;
      try {
        const res = await expectInvalidToken(running, token, 'expired');
        expect(res.body.message).toBe('The access token has expired.');
      } finally {
        running.clock.now = saved;
      }
    });

    it('refuses a never-seen token past exp plus the tolerance', async () => {
      const token = await mint(running, reader);
      const { exp } = decodeJwt(token);
      const saved = running.clock.now;
      running.clock.now = exp! * 1000 + 5000;
      try {
        await expectInvalidToken(running, token, 'expired');
      } finally {
        running.clock.now = saved;
      }
    });

    it('still accepts a token just inside the tolerance, read fresh and then from the cache', async () => {
      const token = await mint(running, reader);
      const { exp } = decodeJwt(token);
      const saved = running.clock.now;
      running.clock.now = exp! * 1000 + 4999;
      try {
        await request(running.url).get('/orders').set(bearer(token)).expect(200);
        await request(running.url).get('/orders').set(bearer(token)).expect(200);
      } finally {
        running.clock.now = saved;
      }
    });

    it('refuses an nbf in the future', async () => {
      const nbf = Math.floor(running.clock.now / 1000) + 60;
      await expectInvalidToken(running, forge(header(), claims({ nbf }), APP_KEY), 'not_yet_valid');
    });

    it('refuses an iat in the future beyond the tolerance', async () => {
      const iat = Math.floor(running.clock.now / 1000) + 6;
      await expectInvalidToken(running, forge(header(), claims({ iat }), APP_KEY), 'claims');
    });

    it('accepts an iat in the future within the tolerance', async () => {
      const iat = Math.floor(running.clock.now / 1000) + 5;
      await request(running.url)
        .get('/orders')
        .set(bearer(forge(header(), claims({ iat }), APP_KEY)))
        .expect(200);
    });

    it.each(['jti', 'client_id', 'sub', 'scope', 'iat'])('refuses a token without %s', async (name) => {
      await expectInvalidToken(running, forge(header(), claims({}, [name]), APP_KEY), 'claims');
    });

    it('refuses a client_id that is not a key id', async () => {
      await expectInvalidToken(running, forge(header(), claims({ client_id: 'admin' }), APP_KEY), 'claims');
    });

    it('refuses a scope claim that is not a list of scopes', async () => {
      await expectInvalidToken(
        running,
        forge(header(), claims({ scope: ['orders:read'] }), APP_KEY),
        'claims',
      );
    });
  });

  describe('tampering and foreign signatures', () => {
    it('refuses a minted token whose payload was altered to add scopes', async () => {
      const token = await mint(running, reader);
      const [head, payload, signature] = token.split('.');
      const claimsSet = JSON.parse(Buffer.from(payload, 'base64url').toString());
      expect(claimsSet.scope).toBe('orders:read');
      const altered = `${head}.${segment({ ...claimsSet, scope: 'orders:read orders:write keys:admin' })}.${signature}`;
      await expectInvalidToken(running, altered, 'signature');
      const write = await request(running.url)
        .post('/orders')
        .set(bearer(altered))
        .send({ item: 'widget', quantity: 1 });
      expect(write.status).toBe(401);
      // The untouched token still works: only the alteration was refused.
      await request(running.url).get('/orders').set(bearer(token)).expect(200);
    });

    it('refuses a token signed by another Ed25519 key under the app kid', async () => {
      await expectInvalidToken(running, forge(header(), claims(), ATTACKER.privateKey), 'signature');
    });

    it('refuses a token whose signature belongs to another token', async () => {
      const first = forge(header(), claims(), APP_KEY).split('.');
      const second = forge(header(), claims(), APP_KEY).split('.');
      await expectInvalidToken(running, `${first[0]}.${first[1]}.${second[2]}`, 'signature');
    });

    describe('a token from another app with the same issuer', () => {
      let other: RunningApp;
      let otherKey: CreatedApiKey;

      beforeAll(async () => {
        const otherSigningKey = generateKeyPairSync('ed25519')
          .privateKey.export({ format: 'pem', type: 'pkcs8' })
          .toString();
        other = await startApp(adapter, await sqlite.fresh(), {}, { signingKey: otherSigningKey });
        otherKey = await other.keys.create({
          name: 'reader',
          scopes: ['orders:read'],
          subject: 'app:reader',
        });
      });

      afterAll(async () => {
        await other.close();
      });

      it('is accepted by the app that minted it (control)', async () => {
        const token = await mint(other, otherKey);
        expect(decodeJwt(token).iss).toBe(ISSUER);
        await request(other.url).get('/orders').set(bearer(token)).expect(200);
      });

      it('is refused here', async () => {
        await expectInvalidToken(running, await mint(other, otherKey), 'kid');
      });
    });
  });

  describe('what the Authorization header carries', () => {
    it('refuses an API key sent as a bearer token, saying to use the API key header', async () => {
      const since = running.events.length;
      const res = await expectInvalidToken(running, reader.key, 'api_key_as_bearer');
      expect(res.body.message).toMatch(/API key header/);
      expect(res.text).not.toContain(reader.key);
      expect(JSON.stringify(res.headers)).not.toContain(reader.key);
      expect(JSON.stringify(running.events.slice(since))).not.toContain(reader.key);
    });

    it('refuses an X-API-Key and a bearer token together with 400', async () => {
      const token = await mint(running, reader);
      const since = running.events.length;
      const res = await request(running.url)
        .get('/orders')
        .set('X-API-Key', reader.key)
        .set(bearer(token))
        .expect(400);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.stringContaining('X-API-Key'),
        code: 'invalid_argument',
      });
      expect(res.text).not.toContain(reader.key);
      expect(tokenFailures(running, since)).toEqual([
        expect.objectContaining({ reason: 'ambiguous_credentials' }),
      ]);
    });

    // Node drops the trailing space of a header value, so the guard sees "Bearer" alone in both cases: a
    // bearer scheme without a token is still a bad token, not the absence of a credential.
    it.each([
      ['"Bearer " with nothing after it', 'Bearer '],
      ['"Bearer" alone', 'Bearer'],
    ])('refuses %s as an invalid token', async (_shape, value) => {
      const since = running.events.length;
      const res = await rawRequest(
        running.port,
        `GET /orders HTTP/1.1\r\nHost: x\r\nAuthorization: ${value}`,
      );
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).code).toBe('invalid_token');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
      expect(tokenFailures(running, since)).toEqual([expect.objectContaining({ reason: 'token_malformed' })]);
    });

    it('refuses "Bearer" followed by garbage', async () => {
      await expectInvalidToken(running, 'garbage', 'malformed');
    });

    it('refuses a JWE-shaped value of five segments', async () => {
      const jwe = [segment({ alg: 'dir', enc: 'A256GCM' }), '', 'aXY', 'Y2lwaGVy', 'dGFn'].join('.');
      await expectInvalidToken(running, jwe, 'malformed');
    });

    it('refuses a 10 KB token, even one signed by the app key', async () => {
      const token = forge(header(), claims({ padding: 'x'.repeat(10 * 1024) }), APP_KEY);
      expect(token.length).toBeGreaterThan(10 * 1024);
      await expectInvalidToken(running, token, 'malformed');
    });

    it('refuses non-ASCII bytes in the token', async () => {
      const token = forge(header(), claims(), APP_KEY);
      const since = running.events.length;
      const head = Buffer.concat([
        Buffer.from('GET /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer '),
        Buffer.from(token.slice(0, 30)),
        Buffer.from([0xc3, 0xa9, 0xff, 0x80]),
        Buffer.from(token.slice(30)),
      ]);
      const res = await rawRequest(running.port, head);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual(expect.objectContaining({ code: 'invalid_token' }));
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
      expect(tokenFailures(running, since)).toEqual([expect.objectContaining({ reason: 'token_malformed' })]);
    });

    it('accepts the scheme name in any case', async () => {
      const token = await mint(running, reader);
      await request(running.url).get('/orders').set('Authorization', `bEaReR ${token}`).expect(200);
    });
  });
});

describe('after every hostile token', () => {
  it('no request ever reached the jku/x5u server', () => {
    expect(keyServerRequests).toEqual([]);
  });
});
