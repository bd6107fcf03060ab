import { webcrypto } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import request from 'supertest';
import type { CreatedApiKey } from 'nestjs-keybridge';
import { freePort, startApp, type RunningApp } from './support/app-starter.js';
import { sqlite, targetMatrix } from './support/databases.js';
import { decodeJwt } from './support/oauth.js';
import { thumbprint } from './support/dpop.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const DPOP_ALGS = ['EdDSA', 'Ed25519', 'ES256', 'RS256', 'PS256'];

type PairAlg = 'Ed25519' | 'ES256';
type CryptoKeyPair = Parameters<typeof oauth.DPoP>[1];

/** A WebCrypto key pair as oauth4webapi's DPoP() takes it; the public half is always exportable. */
async function keyPair(alg: PairAlg = 'Ed25519'): Promise<CryptoKeyPair> {
  const algorithm = alg === 'Ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: 'P-256' };
  return (await webcrypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ])) as unknown as CryptoKeyPair;
}

async function publicJwkOf(pair: CryptoKeyPair): Promise<Record<string, string>> {
  const publicKey = pair.publicKey as unknown as webcrypto.CryptoKey;
  return (await webcrypto.subtle.exportKey('jwk', publicKey)) as Record<string, string>;
}

/**
 * DPoP (RFC 9449) with a standard client, oauth4webapi unmodified: a proof at the token endpoint binds the
 * token to the client's key (`token_type: DPoP`, `cnf.jkt`), and `protectedResourceRequest` with the same
 * DPoP handle uses it on a guarded route; with server nonces, the client's own retry on `use_dpop_nonce`
 * gets through at both ends; `private_key_jwt` and DPoP together. On every database and both adapters.
 */
describe.each(targetMatrix())('DPoP with oauth4webapi on %s', (_name, database, adapter) => {
  let running: RunningApp;
  let as: oauth.AuthorizationServer;
  let key: CreatedApiKey;
  let client: oauth.Client;

  beforeAll(async () => {
    // oauth4webapi stamps proofs with the real time: the server runs on it too.
    running = await startApp(
      adapter,
      await database.fresh(),
      { clock: Date.now },
      { port: await freePort() },
    );
    const issuer = new URL(running.url);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
    key = await running.keys.create({ name: 'agent', scopes: ['orders:read'] });
    client = { client_id: key.id };
  });

  afterAll(async () => {
    await running.close();
  });

  it('lists the proof algorithms in both metadata documents', async () => {
    expect(as.dpop_signing_alg_values_supported).toEqual(DPOP_ALGS);
    const resource = await request(running.url).get('/.well-known/oauth-protected-resource').expect(200);
    expect(resource.body.dpop_signing_alg_values_supported).toEqual(DPOP_ALGS);
  });

  it.each<PairAlg>(['Ed25519', 'ES256'])(
    'binds a client-credentials token to a %s key and accepts it with a proof',
    async (alg) => {
      const pair = await keyPair(alg);
      const DPoP = oauth.DPoP(client, pair);
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(key.key),
        { scope: 'orders:read' },
        { DPoP, ...insecure },
      );
      const tokens = await oauth.processClientCredentialsResponse(as, client, response);
      expect(tokens.token_type).toBe('dpop');
      const jkt = await DPoP.calculateThumbprint();
      expect(jkt).toBe(thumbprint(await publicJwkOf(pair)));
      expect(decodeJwt(tokens.access_token).payload.cnf).toEqual({ jkt });
      expect(running.events.at(-1)).toMatchObject({
        type: 'token.issued',
        authMethod: 'client_secret_basic',
        binding: 'dpop',
      });

      const url = new URL(`${running.url}/orders?page=1`);
      const resource = await oauth.protectedResourceRequest(
        tokens.access_token,
        'GET',
        url,
        new Headers(),
        null,
        { DPoP, ...insecure },
      );
      expect(resource.status).toBe(200);
      expect(await resource.json()).toEqual({ orders: [] });
      // The same token again with a fresh proof, as a client does on each request.
      const again = await oauth.protectedResourceRequest(
        tokens.access_token,
        'GET',
        url,
        new Headers(),
        null,
        {
          DPoP,
          ...insecure,
        },
      );
      expect(again.status).toBe(200);
    },
  );

  it('keeps a request without a proof a bearer request', async () => {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(key.key),
      {},
      insecure,
    );
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    expect(tokens.token_type).toBe('bearer');
    expect(decodeJwt(tokens.access_token).payload.cnf).toBeUndefined();
    await request(running.url)
      .get('/orders')
      .set('Authorization', `Bearer ${tokens.access_token}`)
      .expect(200);
  });

  it('uses private_key_jwt and DPoP together, for a key that requires proof', async () => {
    const registered = await keyPair('Ed25519');
    const signer = await running.keys.create({
      name: 'signed agent',
      scopes: ['orders:read'],
      publicKey: await publicJwkOf(registered),
      requireProof: true,
    });
    const signed: oauth.Client = { client_id: signer.id };
    const auth = oauth.PrivateKeyJwt(registered.privateKey);
    // The registered key signs both the assertion and the proofs.
    const DPoP = oauth.DPoP(signed, registered);
    const response = await oauth.clientCredentialsGrantRequest(as, signed, auth, {}, { DPoP, ...insecure });
    const tokens = await oauth.processClientCredentialsResponse(as, signed, response);
    expect(tokens.token_type).toBe('dpop');
    expect(running.events.at(-1)).toMatchObject({ authMethod: 'private_key_jwt', binding: 'dpop' });
    const resource = await oauth.protectedResourceRequest(
      tokens.access_token,
      'GET',
      new URL(`${running.url}/orders`),
      new Headers(),
      null,
      { DPoP, ...insecure },
    );
    expect(resource.status).toBe(200);

    // A key that does not require proof binds to whichever key signs the proof.
    const free = await running.keys.create({
      name: 'free signer',
      scopes: ['orders:read'],
      publicKey: await publicJwkOf(registered),
    });
    const freeClient: oauth.Client = { client_id: free.id };
    const other = oauth.DPoP(freeClient, await keyPair('ES256'));
    const bound = await oauth.processClientCredentialsResponse(
      as,
      freeClient,
      await oauth.clientCredentialsGrantRequest(as, freeClient, auth, {}, { DPoP: other, ...insecure }),
    );
    expect(decodeJwt(bound.access_token).payload.cnf).toEqual({ jkt: await other.calculateThumbprint() });
  });
});

/** Server nonces (RFC 9449 §8, §9) with the client's own retry, at the token endpoint and on a route. */
describe.each(['express', 'fastify'] as const)('DPoP server nonces with oauth4webapi on %s', (adapter) => {
  let running: RunningApp;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    running = await startApp(
      adapter,
      await sqlite.fresh(),
      { dpop: { nonce: true }, clock: Date.now },
      { port: await freePort() },
    );
    const issuer = new URL(running.url);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
  });

  afterAll(async () => {
    await running.close();
  });

  it('answers use_dpop_nonce with a DPoP-Nonce, and accepts the retry', async () => {
    const key = await running.keys.create({ name: 'nonce agent', scopes: ['orders:read'] });
    const client: oauth.Client = { client_id: key.id };
    const pair = await keyPair();
    const DPoP = oauth.DPoP(client, pair);
    const grant = () =>
      oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(key.key),
        {},
        { DPoP, ...insecure },
      );

    const first = await grant();
    expect(first.status).toBe(400);
    expect(first.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{27}$/);
    const refusal = await oauth.processClientCredentialsResponse(as, client, first).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(oauth.isDPoPNonceError(refusal)).toBe(true);
    const tokens = await oauth.processClientCredentialsResponse(as, client, await grant());
    expect(tokens.token_type).toBe('dpop');

    // Another handle for the same key has no nonce yet: the route asks for one, the retry gets through.
    const fresh = oauth.DPoP(client, pair);
    const call = () =>
      oauth.protectedResourceRequest(
        tokens.access_token,
        'GET',
        new URL(`${running.url}/orders`),
        new Headers(),
        null,
        {
          DPoP: fresh,
          ...insecure,
        },
      );
    const nonceError = await call().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(oauth.isDPoPNonceError(nonceError)).toBe(true);
    const retried = await call();
    expect(retried.status).toBe(200);
  });
});
