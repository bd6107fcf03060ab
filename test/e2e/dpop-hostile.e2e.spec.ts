import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import request from 'supertest';
import type { CreatedApiKey, KeybridgeEvent } from 'nestjs-keybridge';
import { freePort, startApp, type RunningApp } from './support/app-starter.js';
import { ADAPTERS, sqlite } from './support/databases.js';
import { dpopKey, proof, type DpopKey } from './support/dpop.js';
import {
  API_KEY_TOKEN_TYPE,
  basic,
  encodeJwt,
  expectOAuthError,
  form,
  TOKEN_EXCHANGE,
  TOKEN_PATH,
} from './support/oauth.js';

type Res = request.Response;

/**
 * Every refused DPoP shape over real HTTP, each its own test: on a guarded route 401 with the `DPoP`
 * challenge first (error and `algs`) and the `Bearer` and `ApiKey` challenges after it, at the token
 * endpoint 400 `invalid_dpop_proof`; the precise reason in the audit event (`dpop_<reason>`, method
 * `dpop`); never a 500, and no proof or token in any answer or event.
 */
describe.each(ADAPTERS)('hostile DPoP proofs on %s', (adapter) => {
  let running: RunningApp;
  let key: CreatedApiKey;
  let tokenUrl: string;
  let ordersUrl: string;

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh(), {}, { port: await freePort() });
    key = await running.keys.create({ name: 'agent', scopes: ['orders:read'] });
    tokenUrl = `${running.issuer}${TOKEN_PATH}`;
    ordersUrl = `${running.issuer}/orders`;
  });

  afterAll(async () => {
    await running.close();
  });

  function tokenRequest(dpop: string | undefined, client: { id: string; key: string } = key) {
    const req = request(running.url)
      .post(TOKEN_PATH)
      .set('Authorization', basic(client.id, client.key))
      .type('form');
    if (dpop !== undefined) req.set('DPoP', dpop);
    return req.send(form({ grant_type: 'client_credentials' }));
  }

  async function boundToken(dk: DpopKey): Promise<string> {
    const res = await tokenRequest(await proof(dk, { htm: 'POST', htu: tokenUrl, now: running.clock.now }));
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    return res.body.access_token as string;
  }

  function getOrders(authorization: string | undefined, dpop?: string) {
    const req = request(running.url).get('/orders');
    if (authorization) req.set('Authorization', authorization);
    if (dpop !== undefined) req.set('DPoP', dpop);
    return req;
  }

  function lastFailure(): Extract<KeybridgeEvent, { type: 'auth.failed' }> | undefined {
    return running.events.filter((e) => e.type === 'auth.failed').at(-1) as never;
  }

  function expectNothingLeaked(res: Res, secrets: readonly string[]): void {
    const everything = `${JSON.stringify(res.headers)}\n${res.text}\n${JSON.stringify(running.events)}`;
    for (const secret of secrets) expect(everything).not.toContain(secret);
  }

  /** 401 with the DPoP challenge first, the Bearer one after it, the keybridge body and the audit reason. */
  function expectRefused(res: Res, error: string, reason: string, secrets: readonly string[]): void {
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: expect.any(String),
      code: error === 'invalid_token' ? 'invalid_token' : error,
    });
    const challenge = res.headers['www-authenticate'];
    expect(challenge.startsWith(`DPoP realm="api", error="${error}", error_description="`)).toBe(true);
    expect(challenge).toContain('algs="EdDSA Ed25519 ES256 RS256 PS256"');
    expect(challenge).toMatch(
      /, Bearer realm="api", resource_metadata="[^"]+", scope="orders:read", ApiKey /,
    );
    expect(lastFailure()).toMatchObject({ reason, keyId: key.id });
    expectNothingLeaked(res, secrets);
  }

  async function proofFor(dk: DpopKey, token: string, change: Partial<Parameters<typeof proof>[1]> = {}) {
    return proof(dk, { htm: 'GET', htu: ordersUrl, now: running.clock.now, accessToken: token, ...change });
  }

  it('accepts a proof once, and refuses it replayed on the same instance', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const sent = await proofFor(dk, token);
    await getOrders(`DPoP ${token}`, sent).expect(200, { orders: [] });
    const res = await getOrders(`DPoP ${token}`, sent);
    expectRefused(res, 'invalid_dpop_proof', 'dpop_replayed', [sent, token]);
    expect(lastFailure()).toMatchObject({ authMethod: 'dpop' });
  });

  it('refuses a proof made for another method', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const sent = await proofFor(dk, token, { htm: 'POST' });
    expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', 'dpop_htm', [sent, token]);
  });

  it('refuses a proof made for another URL, path or host', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    for (const htu of [`${running.issuer}/orders/1`, 'http://elsewhere.example/orders', 'orders']) {
      const sent = await proofFor(dk, token, { htu });
      expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', 'dpop_htu', [sent, token]);
    }
    // Query and fragment are not part of the comparison (RFC 9449 §4.3).
    const sent = await proofFor(dk, token, { htu: `${ordersUrl}?page=2#top` });
    await getOrders(`DPoP ${token}`, sent).expect(200);
  });

  it('refuses a proof whose iat is too old', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const sent = await proofFor(dk, token, { now: running.clock.now - 120_000 });
    expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', 'dpop_iat', [sent, token]);
  });

  it('refuses a proof whose iat is too far in the future', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const sent = await proofFor(dk, token, { now: running.clock.now + 60_000 });
    expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', 'dpop_iat', [sent, token]);
  });

  it('refuses alg none', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const claims = { jti: 'n1', htm: 'GET', htu: ordersUrl, iat: Math.floor(running.clock.now / 1000) };
    for (const signature of ['', 'c2lnbmF0dXJl']) {
      const sent = encodeJwt({ typ: 'dpop+jwt', alg: 'none', jwk: dk.jwk }, claims, signature);
      const reason = signature === '' ? 'dpop_malformed' : 'dpop_algorithm';
      expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', reason, [token]);
    }
  });

  it('refuses an HS256 proof', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const secret = randomBytes(32);
    const sent = await new SignJWT({
      jti: 'h1',
      htm: 'GET',
      htu: ordersUrl,
      iat: Math.floor(running.clock.now / 1000),
    })
      .setProtectedHeader({
        typ: 'dpop+jwt',
        alg: 'HS256',
        jwk: { kty: 'oct', k: secret.toString('base64url') } as never,
      })
      .sign(secret);
    expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', 'dpop_algorithm', [
      sent,
      token,
    ]);
  });

  it('refuses a proof whose jwk carries the private key', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const privateJwk = dk.privateKey.export({ format: 'jwk' }) as Record<string, string>;
    const sent = await proofFor(dk, token, { header: { jwk: privateJwk } });
    expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', 'dpop_private_key', [
      sent,
      token,
      privateJwk.d,
    ]);
    // At the token endpoint too.
    const atToken = await proof(dk, {
      htm: 'POST',
      htu: tokenUrl,
      now: running.clock.now,
      header: { jwk: privateJwk },
    });
    expectOAuthError(await tokenRequest(atToken), 400, 'invalid_dpop_proof', [atToken, privateJwk.d]);
  });

  it('refuses a bound token sent as a bearer token', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const res = await getOrders(`Bearer ${token}`);
    expectRefused(res, 'invalid_token', 'token_dpop_bound', [token]);
    // With a valid proof beside it, too: the scheme is what the token was bound to.
    const sent = await proofFor(dk, token);
    expectRefused(await getOrders(`Bearer ${token}`, sent), 'invalid_token', 'token_dpop_bound', [
      token,
      sent,
    ]);
  });

  it('refuses a proof whose claims were changed after signing', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const [head, , signature] = (await proofFor(dk, token)).split('.');
    const payload = Buffer.from(
      JSON.stringify({
        jti: 'forged',
        htm: 'GET',
        htu: ordersUrl,
        iat: Math.floor(running.clock.now / 1000),
      }),
    ).toString('base64url');
    const sent = `${head}.${payload}.${signature}`;
    expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', 'dpop_signature', [
      sent,
      token,
    ]);
  });

  it('refuses a proof signed by another key', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const sent = await proofFor(dpopKey('ES256'), token);
    expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', 'dpop_key_mismatch', [
      sent,
      token,
    ]);
  });

  it('refuses a proof whose ath names another token, or none', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const other = await boundToken(dk);
    for (const sent of [await proofFor(dk, other), await proofFor(dk, token, { accessToken: undefined })]) {
      expectRefused(await getOrders(`DPoP ${token}`, sent), 'invalid_dpop_proof', 'dpop_ath', [sent, token]);
    }
  });

  it('refuses the DPoP scheme without a proof, and with a token that is not bound', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    expectRefused(await getOrders(`DPoP ${token}`), 'invalid_dpop_proof', 'dpop_missing', [token]);
    const plain = (await tokenRequest(undefined)).body.access_token as string;
    const sent = await proofFor(dk, plain);
    expectRefused(await getOrders(`DPoP ${plain}`, sent), 'invalid_token', 'token_not_dpop_bound', [
      plain,
      sent,
    ]);
  });

  it('answers malformed and repeated DPoP headers with 4xx, never 500', async () => {
    const dk = dpopKey();
    const token = await boundToken(dk);
    const good = await proofFor(dk, token);
    for (const value of ['x', 'a.b.c', `${'e'.repeat(9000)}.e.e`, `${good}, ${good}`, '....']) {
      const res = await getOrders(`DPoP ${token}`, value);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_dpop_proof');
      expectOAuthError(await tokenRequest(value), 400, 'invalid_dpop_proof', [token]);
    }
  });

  it('refuses a token-endpoint proof for another URL or method, or with an ath', async () => {
    const dk = dpopKey();
    for (const change of [
      { htu: `${running.issuer}/oauth/other` },
      { htm: 'GET' },
      { accessToken: 'anything' },
    ]) {
      const sent = await proof(dk, { htm: 'POST', htu: tokenUrl, now: running.clock.now, ...change });
      expectOAuthError(await tokenRequest(sent), 400, 'invalid_dpop_proof', [sent, key.key]);
      expect(lastFailure()).toMatchObject({ authMethod: 'dpop' });
    }
  });

  describe('a key that requires proof', () => {
    let registered: DpopKey;
    let strict: CreatedApiKey;

    beforeAll(async () => {
      registered = dpopKey();
      strict = await running.keys.create({
        name: 'strict',
        scopes: ['orders:read'],
        publicKey: registered.jwk,
        requireProof: true,
      });
    });

    function withKey(dpop?: string) {
      const req = request(running.url).get('/orders').set('X-API-Key', strict.key);
      if (dpop !== undefined) req.set('DPoP', dpop);
      return req;
    }

    function expectProofRequired(res: Res, secrets: readonly string[]): void {
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 'invalid_api_key' });
      expect(lastFailure()).toMatchObject({ reason: 'proof_required', keyId: strict.id });
      expectNothingLeaked(res, [strict.key, ...secrets]);
    }

    it('refuses the key alone', async () => {
      expectProofRequired(await withKey(), []);
    });

    it('accepts the key with a proof of its registered key, once', async () => {
      const sent = await proof(registered, { htm: 'GET', htu: ordersUrl, now: running.clock.now });
      await withKey(sent).expect(200, { orders: [] });
      expectProofRequired(await withKey(sent), [sent]);
    });

    it("refuses the key with another key's proof, or a proof for another request", async () => {
      const foreign = await proof(dpopKey(), { htm: 'GET', htu: ordersUrl, now: running.clock.now });
      expectProofRequired(await withKey(foreign), [foreign]);
      const elsewhere = await proof(registered, { htm: 'POST', htu: ordersUrl, now: running.clock.now });
      expectProofRequired(await withKey(elsewhere), [elsewhere]);
    });

    it("exchanges the key for a bound token with its registered key's proof, and not with another's", async () => {
      const exchange = (dpop: string) =>
        request(running.url)
          .post(TOKEN_PATH)
          .set('DPoP', dpop)
          .type('form')
          .send(
            form({
              grant_type: TOKEN_EXCHANGE,
              subject_token: strict.key,
              subject_token_type: API_KEY_TOKEN_TYPE,
            }),
          );
      const own = await proof(registered, { htm: 'POST', htu: tokenUrl, now: running.clock.now });
      const granted = await exchange(own);
      expect(granted.status).toBe(200);
      expect(granted.body.token_type).toBe('DPoP');
      const foreign = await proof(dpopKey(), { htm: 'POST', htu: tokenUrl, now: running.clock.now });
      expectOAuthError(await exchange(foreign), 400, 'invalid_request', [strict.key, foreign]);
      expect(lastFailure()).toMatchObject({ reason: 'proof_required', keyId: strict.id });
    });

    it("gets a bound token with its secret and its registered key's proof, and not with another's", async () => {
      const own = await proof(registered, { htm: 'POST', htu: tokenUrl, now: running.clock.now });
      const granted = await tokenRequest(own, strict);
      expect(granted.status).toBe(200);
      expect(granted.body.token_type).toBe('DPoP');
      const foreign = await proof(dpopKey(), { htm: 'POST', htu: tokenUrl, now: running.clock.now });
      expectOAuthError(await tokenRequest(foreign, strict), 401, 'invalid_client', [strict.key, foreign]);
      expect(lastFailure()).toMatchObject({ reason: 'proof_required', keyId: strict.id });
    });
  });
});
