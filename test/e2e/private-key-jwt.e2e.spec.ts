import { generateKeyPairSync, randomUUID, webcrypto, type KeyObject } from 'node:crypto';
import { SignJWT, type CryptoKey as JoseKey } from 'jose';
import * as oauth from 'oauth4webapi';
import request from 'supertest';
import type { CreatedApiKey, KeybridgeEvent } from 'nestjs-keybridge';
import { freePort, startApp, type RunningApp } from './support/app-starter.js';
import { targetMatrix } from './support/databases.js';
import { basic, encodeJwt, expectOAuthError, form, TOKEN_PATH } from './support/oauth.js';
import { sharedReplayStores } from './support/replay-stores.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

type Alg = 'EdDSA' | 'ES256' | 'RS256';

function keyPair(alg: Alg): { publicKey: KeyObject; privateKey: KeyObject } {
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519');
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/** The private key as the WebCrypto key oauth4webapi signs with. */
async function cryptoKeyOf(privateKey: KeyObject, alg: Alg): Promise<oauth.PrivateKey['key']> {
  const algorithm =
    alg === 'EdDSA'
      ? { name: 'Ed25519' }
      : alg === 'ES256'
        ? { name: 'ECDSA', namedCurve: 'P-256' }
        : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const key = await webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
  return key as unknown as oauth.PrivateKey['key'];
}

/** The client's own request: a client-credentials grant with `client_assertion` in the body. */
function withAssertion(url: string, assertion: string, extra: Record<string, string> = {}) {
  return request(url)
    .post(TOKEN_PATH)
    .type('form')
    .send(
      form({
        grant_type: 'client_credentials',
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: assertion,
        ...extra,
      }),
    );
}

/**
 * `private_key_jwt` (RFC 7523 §2.2) over real HTTP: a standard client (oauth4webapi, unmodified) gets tokens
 * with each supported key type, and every hostile assertion is refused with `invalid_client` and an audit
 * reason, never echoed anywhere.
 */
describe.each(targetMatrix())('private_key_jwt on %s', (_name, database, adapter) => {
  let running: RunningApp;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    running = await startApp(adapter, await database.fresh(), {}, { port: await freePort() });
    const issuer = new URL(running.url);
    const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
    as = await oauth.processDiscoveryResponse(issuer, response);
  });

  afterAll(async () => {
    await running.close();
  });

  async function clientWith(
    alg: Alg,
    settings: { requireProof?: boolean; kid?: string; pem?: boolean } = {},
  ): Promise<{ key: CreatedApiKey; privateKey: KeyObject; publicKey: KeyObject }> {
    const { publicKey, privateKey } = keyPair(alg);
    const registered = settings.pem
      ? (publicKey.export({ format: 'pem', type: 'spki' }) as string)
      : { ...publicKey.export({ format: 'jwk' }), ...(settings.kid ? { kid: settings.kid } : {}) };
    const key = await running.keys.create({
      name: `client ${alg}`,
      scopes: ['orders:read', 'tokens:introspect'],
      publicKey: registered,
      requireProof: settings.requireProof,
    });
    return { key, privateKey, publicKey };
  }

  /** An assertion as a client would sign it, with claims and header changed by the test. */
  function assertion(
    client: { key: CreatedApiKey; privateKey: KeyObject },
    alg: string,
    claims: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
  ): Promise<string> {
    const now = Math.floor(running.clock.now / 1000);
    return new SignJWT({
      iss: client.key.id,
      sub: client.key.id,
      aud: running.issuer,
      jti: randomUUID(),
      iat: now,
      exp: now + 60,
      ...claims,
    })
      .setProtectedHeader({ alg, ...header })
      .sign(client.privateKey as unknown as JoseKey);
  }

  function failures(): Extract<KeybridgeEvent, { type: 'auth.failed' }>[] {
    return running.events.filter((e) => e.type === 'auth.failed');
  }

  /** 401 invalid_client, the assertion nowhere in the answer or the events, and the audit reason. */
  async function expectRefused(
    res: request.Response,
    sent: string,
    reason: string,
    keyId?: string,
  ): Promise<void> {
    expectOAuthError(res, 401, 'invalid_client', [sent]);
    expect(failures().at(-1)).toMatchObject({
      reason,
      authMethod: 'private_key_jwt',
      ...(keyId ? { keyId } : {}),
    });
    expect(JSON.stringify(running.events)).not.toContain(sent);
  }

  it('lists private_key_jwt and its algorithms in the metadata', () => {
    for (const endpoint of ['token', 'revocation', 'introspection']) {
      expect(as[`${endpoint}_endpoint_auth_methods_supported`]).toContain('private_key_jwt');
      expect(as[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).toEqual([
        'EdDSA',
        'Ed25519',
        'ES256',
        'RS256',
      ]);
    }
  });

  it('stores the registered key as a public JWK and changes it with update', async () => {
    const { key, publicKey } = await clientWith('ES256', { pem: true });
    const jwk = publicKey.export({ format: 'jwk' });
    expect(key).toMatchObject({
      publicKey: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y },
      requireProof: false,
    });
    expect(await running.keys.get(key.id)).toMatchObject({ publicKey: key.publicKey, requireProof: false });
    const updated = await running.keys.update(key.id, { requireProof: true });
    expect(updated.requireProof).toBe(true);
    await expect(running.keys.update(key.id, { publicKey: null })).rejects.toThrow(/needs a publicKey/);
    const { privateKey } = keyPair('EdDSA');
    await expect(
      running.keys.update(key.id, { publicKey: privateKey.export({ format: 'jwk' }) }),
    ).rejects.toThrow(/private/);
    expect(await running.keys.get(key.id)).toMatchObject({ publicKey: key.publicKey, requireProof: true });
  });

  it.each<Alg>(['EdDSA', 'ES256', 'RS256'])(
    'gives oauth4webapi a token for a %s key, usable on a guarded route',
    async (alg) => {
      const { key, privateKey } = await clientWith(alg, { kid: `kid-${alg}` });
      const client: oauth.Client = { client_id: key.id };
      const auth = oauth.PrivateKeyJwt({ key: await cryptoKeyOf(privateKey, alg), kid: `kid-${alg}` });
      const response = await oauth.clientCredentialsGrantRequest(as, client, auth, {}, insecure);
      const tokens = await oauth.processClientCredentialsResponse(as, client, response);
      await request(running.url)
        .get('/orders')
        .set('Authorization', `Bearer ${tokens.access_token}`)
        .expect(200, { orders: [] });
      expect(running.events.at(-1)).toMatchObject({
        type: 'token.issued',
        keyId: key.id,
        authMethod: 'private_key_jwt',
      });

      const introspected = await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure);
      expect(await oauth.processIntrospectionResponse(as, client, introspected)).toMatchObject({
        active: true,
      });
      const revoked = await oauth.revocationRequest(as, client, auth, tokens.access_token, insecure);
      await oauth.processRevocationResponse(revoked);
      await request(running.url)
        .get('/orders')
        .set('Authorization', `Bearer ${tokens.access_token}`)
        .expect(401);
    },
  );

  it('names the method of a secret in the audit events too', async () => {
    const key = await running.keys.create({ name: 'secret client', scopes: ['orders:read'] });
    await request(running.url)
      .post(TOKEN_PATH)
      .set('Authorization', basic(key.id, key.key))
      .type('form')
      .send(form({ grant_type: 'client_credentials' }))
      .expect(200);
    expect(running.events.at(-1)).toMatchObject({ type: 'token.issued', authMethod: 'client_secret_basic' });
  });

  it('refuses an assertion replayed on the same instance', async () => {
    const client = await clientWith('EdDSA');
    const sent = await assertion(client, 'EdDSA');
    await withAssertion(running.url, sent).expect(200);
    await expectRefused(await withAssertion(running.url, sent), sent, 'assertion_replayed', client.key.id);
  });

  it('refuses an expired assertion', async () => {
    const client = await clientWith('EdDSA');
    const now = Math.floor(running.clock.now / 1000);
    const sent = await assertion(client, 'EdDSA', { iat: now - 180, exp: now - 60 });
    await expectRefused(await withAssertion(running.url, sent), sent, 'assertion_expired', client.key.id);
  });

  it('refuses an assertion that lives longer than five minutes', async () => {
    const client = await clientWith('EdDSA');
    const now = Math.floor(running.clock.now / 1000);
    const sent = await assertion(client, 'EdDSA', { exp: now + 3600 });
    await expectRefused(await withAssertion(running.url, sent), sent, 'assertion_lifetime', client.key.id);
  });

  it('refuses an assertion whose aud is not the issuer (the token endpoint URL included)', async () => {
    const client = await clientWith('EdDSA');
    for (const aud of [`${running.url}${TOKEN_PATH}`, 'https://elsewhere.example', [running.issuer, 'x']]) {
      const sent = await assertion(client, 'EdDSA', { aud });
      await expectRefused(await withAssertion(running.url, sent), sent, 'assertion_audience', client.key.id);
    }
  });

  it('refuses alg none', async () => {
    const client = await clientWith('EdDSA');
    const now = Math.floor(running.clock.now / 1000);
    const claims = {
      iss: client.key.id,
      sub: client.key.id,
      aud: running.issuer,
      jti: 'n',
      iat: now,
      exp: now + 60,
    };
    const sent = encodeJwt({ alg: 'none' }, claims);
    await expectRefused(await withAssertion(running.url, sent), sent, 'assertion_algorithm', client.key.id);
  });

  it('refuses HS256 signed with the registered public key as the secret', async () => {
    const client = await clientWith('RS256', { pem: true });
    const pem = client.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const now = Math.floor(running.clock.now / 1000);
    const sent = await new SignJWT({
      iss: client.key.id,
      sub: client.key.id,
      aud: running.issuer,
      jti: 'h',
      exp: now + 60,
    })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(pem));
    await expectRefused(await withAssertion(running.url, sent), sent, 'assertion_algorithm', client.key.id);
  });

  it('refuses an assertion signed by another key', async () => {
    const client = await clientWith('ES256');
    const other = keyPair('ES256').privateKey;
    const sent = await assertion({ ...client, privateKey: other }, 'ES256');
    await expectRefused(await withAssertion(running.url, sent), sent, 'assertion_signature', client.key.id);
  });

  it('refuses a kid other than the registered one', async () => {
    const client = await clientWith('EdDSA', { kid: 'registered' });
    const sent = await assertion(client, 'Ed25519', {}, { kid: 'foreign' });
    await expectRefused(
      await withAssertion(running.url, sent),
      sent,
      'assertion_kid_mismatch',
      client.key.id,
    );
  });

  it('refuses an assertion made for another client_id', async () => {
    const mine = await clientWith('EdDSA');
    const theirs = await clientWith('EdDSA');
    const sent = await assertion(mine, 'EdDSA');
    const res = await withAssertion(running.url, sent, { client_id: theirs.key.id });
    await expectRefused(res, sent, 'client_id_mismatch');
    // Claiming the other client inside the assertion, signed with one's own key, fails its signature.
    const forged = await assertion(mine, 'EdDSA', { iss: theirs.key.id, sub: theirs.key.id });
    await expectRefused(
      await withAssertion(running.url, forged),
      forged,
      'assertion_signature',
      theirs.key.id,
    );
  });

  it('refuses an assertion mixed with another method, and a half-sent one', async () => {
    const client = await clientWith('EdDSA');
    const sent = await assertion(client, 'EdDSA');
    const mixed = await withAssertion(running.url, sent).set(
      'Authorization',
      basic(client.key.id, client.key.key),
    );
    expectOAuthError(mixed, 400, 'invalid_request', [sent, client.key.key]);
    const half = await request(running.url)
      .post(TOKEN_PATH)
      .type('form')
      .send(form({ grant_type: 'client_credentials', client_assertion: sent }));
    expectOAuthError(half, 400, 'invalid_request', [sent]);
  });

  it('refuses the secret alone of a key that requires proof, at the token endpoint and as X-API-Key', async () => {
    const client = await clientWith('EdDSA', { requireProof: true });
    const { id, key } = client.key;
    const res = await request(running.url)
      .post(TOKEN_PATH)
      .set('Authorization', basic(id, key))
      .type('form')
      .send(form({ grant_type: 'client_credentials' }));
    expectOAuthError(res, 401, 'invalid_client', [key]);
    expect(failures().at(-1)).toMatchObject({
      reason: 'proof_required',
      keyId: id,
      authMethod: 'client_secret_basic',
    });

    const guarded = await request(running.url).get('/orders').set('X-API-Key', key);
    expect(guarded.status).toBe(401);
    expect(guarded.body).toMatchObject({ code: 'invalid_api_key' });
    expect(failures().at(-1)).toMatchObject({ reason: 'proof_required', keyId: id });

    // Its signed assertion still works, and so does the token it gets.
    const granted = await withAssertion(running.url, await assertion(client, 'EdDSA')).expect(200);
    await request(running.url)
      .get('/orders')
      .set('Authorization', `Bearer ${(granted.body as { access_token: string }).access_token}`)
      .expect(200);
  });
});

/** Two instances sharing a replay store: an assertion accepted by one is refused by the other. */
describe.each(sharedReplayStores())('private_key_jwt replay across instances on %s', (_name, store) => {
  const ISSUER = 'http://api.keybridge.test';
  let a: RunningApp;
  let b: RunningApp;
  let done: () => Promise<void>;

  beforeAll(async () => {
    const shared = await store();
    done = shared.done;
    a = await startApp('express', shared.databaseUrl, shared.options, { issuer: ISSUER });
    b = await startApp('fastify', shared.databaseUrl, shared.options, { issuer: ISSUER });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await done?.();
  });

  it('accepts the assertion once, on whichever instance sees it first', async () => {
    const { publicKey, privateKey } = keyPair('EdDSA');
    const key = await a.keys.create({
      name: 'agent',
      scopes: ['orders:read'],
      publicKey: publicKey.export({ format: 'jwk' }),
    });
    const now = Math.floor(Date.now() / 1000);
    const sent = await new SignJWT({
      iss: key.id,
      sub: key.id,
      aud: ISSUER,
      jti: randomUUID(),
      iat: now,
      exp: now + 60,
    })
      .setProtectedHeader({ alg: 'EdDSA' })
      .sign(privateKey as unknown as JoseKey);
    await withAssertion(a.url, sent).expect(200);
    const replayed = await withAssertion(b.url, sent);
    expectOAuthError(replayed, 401, 'invalid_client', [sent]);
    expect(b.events.filter((e) => e.type === 'auth.failed').at(-1)).toMatchObject({
      reason: 'assertion_replayed',
      keyId: key.id,
    });
  });
});
