import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import request from 'supertest';
import type { CreatedApiKey } from 'nestjs-keybridge';
import { ADAPTERS, sqlite } from './support/databases.js';
import { freePort, startApp, type RunningApp } from './support/app-starter.js';

/** oauth4webapi refuses plain http unless told; the app under test listens on http://127.0.0.1. */
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/**
 * A standard OAuth client (oauth4webapi) and a standard JWT library (jose), unmodified, against the sample
 * app: discovery, the client-credentials grant, verification from the JWKS URL alone, and revocation.
 */
describe.each(ADAPTERS)('standard OAuth client against the token endpoint (%s)', (adapter) => {
  let running: RunningApp;
  let issuer: URL;
  let as: oauth.AuthorizationServer;
  let key: CreatedApiKey;
  let client: oauth.Client;
  let clientAuth: oauth.ClientAuth;

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh(), {}, { port: await freePort() });
    issuer = new URL(running.url);
    key = await running.keys.create({
      name: 'partner',
      scopes: ['orders:read', 'orders:write'],
      subject: 'app:partner',
    });
    client = { client_id: key.id };
    clientAuth = oauth.ClientSecretBasic(key.key);
    as = await discover();
  });

  afterAll(async () => {
    await running.close();
  });

  async function discover(): Promise<oauth.AuthorizationServer> {
    const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
    return oauth.processDiscoveryResponse(issuer, response);
  }

  async function grant(parameters: Record<string, string> = {}): Promise<oauth.TokenEndpointResponse> {
    const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, parameters, insecure);
    return oauth.processClientCredentialsResponse(as, client, response);
  }

  it('discovers the server through RFC 8414 metadata', async () => {
    expect(await discover()).toMatchObject({
      issuer: running.url,
      token_endpoint: `${running.url}/oauth/token`,
      revocation_endpoint: `${running.url}/oauth/revoke`,
      introspection_endpoint: `${running.url}/oauth/introspect`,
      jwks_uri: `${running.url}/.well-known/jwks.json`,
    });
  });

  it('obtains a token with the client-credentials grant over client_secret_basic', async () => {
    const tokens = await grant({ scope: 'orders:read' });
    expect(tokens).toMatchObject({ token_type: 'bearer', expires_in: 900, scope: 'orders:read' });
    await request(running.url)
      .get('/orders')
      .set('Authorization', `Bearer ${tokens.access_token}`)
      .expect(200, { orders: [] });
  });

  it('obtains a token over client_secret_post too', async () => {
    const postAuth = oauth.ClientSecretPost(key.key);
    const response = await oauth.clientCredentialsGrantRequest(as, client, postAuth, {}, insecure);
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    expect(tokens.scope).toBe('orders:read orders:write');
    await request(running.url)
      .get('/orders')
      .set('Authorization', `Bearer ${tokens.access_token}`)
      .expect(200);
  });

  it('lets jose verify the token from the JWKS URL alone', async () => {
    const tokens = await grant();
    const JWKS = createRemoteJWKSet(new URL(as.jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, JWKS, {
      issuer: as.issuer,
      audience: as.issuer,
      typ: 'at+jwt',
    });
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: expect.any(String) });
    expect(payload).toMatchObject({
      iss: running.url,
      aud: running.url,
      sub: 'app:partner',
      client_id: key.id,
      scope: 'orders:read orders:write',
    });
  });

  it('makes the token fail on /orders once oauth4webapi revokes it', async () => {
    const tokens = await grant();
    await request(running.url)
      .get('/orders')
      .set('Authorization', `Bearer ${tokens.access_token}`)
      .expect(200);
    const response = await oauth.revocationRequest(as, client, clientAuth, tokens.access_token, insecure);
    await expect(oauth.processRevocationResponse(response)).resolves.toBeUndefined();
    const refused = await request(running.url)
      .get('/orders')
      .set('Authorization', `Bearer ${tokens.access_token}`)
      .expect(401);
    expect(refused.body).toMatchObject({ code: 'invalid_token' });
  });

  it('makes a fresh token fail, and the grant with it, once the key is revoked', async () => {
    const fresh = await grant();
    await request(running.url)
      .get('/orders')
      .set('Authorization', `Bearer ${fresh.access_token}`)
      .expect(200);
    // RFC 7009 with the API key itself as the token: the key revokes itself.
    const response = await oauth.revocationRequest(as, client, clientAuth, key.key, insecure);
    await oauth.processRevocationResponse(response);
    await request(running.url)
      .get('/orders')
      .set('Authorization', `Bearer ${fresh.access_token}`)
      .expect(401);
    const refusal = await grant().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect(refusal).toMatchObject({
      status: 401,
      cause: [
        expect.objectContaining({ scheme: 'basic', parameters: expect.objectContaining({ realm: 'api' }) }),
      ],
    });
  });
});
