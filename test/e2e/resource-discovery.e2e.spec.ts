import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import request from 'supertest';
import type { CreatedApiKey } from 'nestjs-keybridge';
import { ADAPTERS, sqlite } from './support/databases.js';
import { freePort, startApp, type RunningApp } from './support/app-starter.js';

/** oauth4webapi refuses plain http unless told; the app under test listens on http://127.0.0.1. */
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/**
 * The auth-params of the first challenge of a `WWW-Authenticate` header, and its scheme: enough to read
 * what a client reads first. Quoted values here contain no quotes.
 */
function firstChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const scheme = header.slice(0, header.indexOf(' '));
  const params: Record<string, string> = {};
  const pattern = /\s*([A-Za-z_]+)="([^"]*)"\s*(,|$)/y;
  pattern.lastIndex = scheme.length;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(header))) {
    params[match[1]] = match[2];
    // The next challenge starts with a scheme, not an auth-param.
    if (/^\s*[A-Za-z]+ /.test(header.slice(pattern.lastIndex))) break;
  }
  return { scheme, params };
}

/**
 * RFC 9728 discovery from a bare 401, by a standard client (oauth4webapi, unmodified): the protected
 * resource metadata it names, the authorization server that lists, a client-credentials token for the
 * resource, and the route called with it. Then the challenges' scopes, `resource` matching at the token
 * endpoint, and the authorization endpoint, which supports no response type.
 */
describe.each(ADAPTERS)('RFC 9728 resource discovery (%s)', (adapter) => {
  let running: RunningApp;
  let resource: URL;
  let key: CreatedApiKey;
  let reader: CreatedApiKey;
  const client = () => ({ client_id: key.id });

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh(), {}, { port: await freePort() });
    resource = new URL(running.url);
    key = await running.keys.create({
      name: 'agent',
      scopes: ['orders:read', 'orders:write'],
      subject: 'app:agent',
    });
    reader = await running.keys.create({ name: 'reader', scopes: ['orders:read'], subject: 'app:reader' });
  });

  afterAll(async () => {
    await running.close();
  });

  const metadataUrl = () => `${running.url}/.well-known/oauth-protected-resource`;

  /** A token request with the key's secret over client_secret_basic; resolves to the raw answer. */
  function tokenRequest(form: Record<string, string | string[]>, credentials: CreatedApiKey = key) {
    return request(running.url)
      .post('/oauth/token')
      .auth(credentials.id, credentials.key)
      .type('form')
      .send({ grant_type: 'client_credentials', ...form });
  }

  it('goes from a bare 401 to a token and back to the route, with nothing but the URL and the key', async () => {
    const bare = await fetch(`${running.url}/orders`);
    expect(bare.status).toBe(401);
    const challenge = firstChallenge(bare.headers.get('www-authenticate')!);
    expect(challenge).toEqual({
      scheme: 'Bearer',
      params: { realm: 'api', resource_metadata: metadataUrl(), scope: 'orders:read' },
    });

    // RFC 9728 §3.1: the URL the client would build from the resource identifier is the one the 401 named.
    const discovery = await oauth.resourceDiscoveryRequest(resource, insecure);
    expect(discovery.url).toBe(challenge.params.resource_metadata);
    const rs = await oauth.processResourceDiscoveryResponse(resource, discovery);
    expect(discovery.headers.get('cache-control')).toBe('public, max-age=300');
    expect(rs).toEqual({
      resource: running.url,
      authorization_servers: [running.issuer],
      scopes_supported: expect.arrayContaining(['orders:read', 'orders:write']),
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ['EdDSA', 'Ed25519', 'ES256', 'RS256', 'PS256'],
    });

    const issuer = new URL(rs.authorization_servers![0]);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
    const granted = await oauth.processClientCredentialsResponse(
      as,
      client(),
      await oauth.clientCredentialsGrantRequest(
        as,
        client(),
        oauth.ClientSecretBasic(key.key),
        { scope: challenge.params.scope, resource: rs.resource },
        insecure,
      ),
    );
    expect(granted.scope).toBe('orders:read');
    expect(decodeJwt(granted.access_token).aud).toBe(running.issuer);

    const called = await oauth.protectedResourceRequest(
      granted.access_token,
      'GET',
      new URL(`${running.url}/orders`),
      new Headers(),
      null,
      insecure,
    );
    expect(called.status).toBe(200);
    expect(await called.json()).toEqual({ orders: [] });
  });

  it("lets oauth4webapi read the Bearer challenge's resource_metadata and scope before the ApiKey one", async () => {
    const refusal = await oauth
      .protectedResourceRequest(
        'not-a-token',
        'POST',
        new URL(`${running.url}/orders`),
        new Headers(),
        null,
        insecure,
      )
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refusal).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    const [bearer, apiKey] = (refusal as oauth.WWWAuthenticateChallengeError).cause;
    expect(bearer).toMatchObject({
      scheme: 'bearer',
      parameters: {
        realm: 'api',
        error: 'invalid_token',
        resource_metadata: metadataUrl(),
        scope: 'orders:write',
      },
    });
    expect(apiKey).toMatchObject({ scheme: 'apikey', parameters: { realm: 'api', header: 'X-API-Key' } });
  });

  it('serves the path-suffixed metadata of a resource under the API (RFC 9728 §3.1)', async () => {
    const mcp = new URL(`${running.url}/mcp`);
    const discovery = await oauth.resourceDiscoveryRequest(mcp, insecure);
    expect(discovery.url).toBe(`${running.url}/.well-known/oauth-protected-resource/mcp`);
    await expect(oauth.processResourceDiscoveryResponse(mcp, discovery)).resolves.toMatchObject({
      resource: `${running.url}/mcp`,
      authorization_servers: [running.issuer],
    });
    const nested = await request(running.url)
      .get('/.well-known/oauth-protected-resource/v1/orders?ignored=1')
      .expect(200);
    expect(nested.body.resource).toBe(`${running.url}/v1/orders`);
    expect(nested.headers['cache-control']).toBe('public, max-age=300');
    // A token for a path under the API is a token for the API: the route accepts it.
    const granted = await tokenRequest({ resource: `${running.url}/mcp` }).expect(200);
    expect(decodeJwt(granted.body.access_token).aud).toBe(running.issuer);
    await request(running.url)
      .get('/orders')
      .set('Authorization', `Bearer ${granted.body.access_token}`)
      .expect(200);
  });

  it.each(['/..', '/a/../b', '/a//b', '/%2e%2e'])('names no resource at %s', async (path) => {
    const res = await request(running.url).get(`/.well-known/oauth-protected-resource${path}`);
    expect(res.status).toBe(404);
    expect(res.body).not.toHaveProperty('resource');
  });

  describe('challenges', () => {
    it('names the scopes of a route in the 401 of an invalid key', async () => {
      const res = await request(running.url)
        .post('/orders')
        .set('X-API-Key', `${key.key.slice(0, -1)}${key.key.endsWith('x') ? 'y' : 'x'}`);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="api", resource_metadata="${metadataUrl()}", scope="orders:write", ApiKey realm="api", header="X-API-Key"`,
      );
    });

    it('names the scopes a route needs in the 403 of a token lacking them', async () => {
      const granted = await tokenRequest({}, reader).expect(200);
      const res = await request(running.url)
        .post('/orders')
        .set('Authorization', `Bearer ${granted.body.access_token}`)
        .send({ item: 'widget', quantity: 1 });
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="api", error="insufficient_scope", resource_metadata="${metadataUrl()}", scope="orders:write", ApiKey realm="api", header="X-API-Key"`,
      );
    });
  });

  describe('resource at the token endpoint (RFC 8707)', () => {
    const port = () => new URL(running.url).port;

    it.each([
      ['the issuer as configured', (url: string) => url],
      ['an upper-case scheme and host', (url: string) => url.replace('http://127.0.0.1', 'HTTP://127.0.0.1')],
      ['a trailing slash', (url: string) => `${url}/`],
      ['a path under the API', (url: string) => `${url}/mcp`],
    ])('accepts %s', async (_case, resourceOf) => {
      const res = await tokenRequest({ resource: resourceOf(running.url) }).expect(200);
      expect(decodeJwt(res.body.access_token).aud).toBe(running.issuer);
    });

    it('drops the default port before comparing', async () => {
      const app = await startApp(adapter, await sqlite.fresh(), { issuer: 'http://api.example.com' });
      try {
        const own = await app.keys.create({ name: 'p', scopes: ['orders:read'], subject: 'app:p' });
        for (const value of ['http://API.example.com:80', 'http://api.example.com:80/mcp']) {
          const res = await request(app.url)
            .post('/oauth/token')
            .auth(own.id, own.key)
            .type('form')
            .send({ grant_type: 'client_credentials', resource: value })
            .expect(200);
          expect(decodeJwt(res.body.access_token).aud).toBe('http://api.example.com');
        }
      } finally {
        await app.close();
      }
    });

    it.each([
      ['a fragment', (url: string) => `${url}/mcp#section`, 'fragment'],
      ['an empty fragment', (url: string) => `${url}#`, 'fragment'],
      ['a relative reference', () => '/mcp', 'absolute URI'],
      ['another port', () => `http://127.0.0.1:${Number(port()) + 1}`, 'not served'],
      ['another host', () => 'http://example.com', 'not served'],
      ['another scheme', (url: string) => url.replace('http:', 'https:'), 'not served'],
      ['credentials in the URI', (url: string) => url.replace('http://', 'http://user:pw@'), 'absolute URI'],
      ['a query under the API', (url: string) => `${url}/mcp?x=1`, 'not served'],
    ])('refuses %s with invalid_target', async (_case, resourceOf, said) => {
      const res = await tokenRequest({ resource: resourceOf(running.url) }).expect(400);
      expect(res.body).toEqual({ error: 'invalid_target', error_description: expect.stringContaining(said) });
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('refuses the whole request when one of several resources is unknown', async () => {
      const res = await tokenRequest({ resource: [running.url, 'https://elsewhere.example'] }).expect(400);
      expect(res.body.error).toBe('invalid_target');
    });
  });

  describe('authorization server metadata', () => {
    it('names an authorization endpoint that supports no response type', async () => {
      const res = await request(running.url).get('/.well-known/oauth-authorization-server').expect(200);
      expect(res.body).toMatchObject({
        authorization_endpoint: `${running.url}/oauth/authorize`,
        token_endpoint: `${running.url}/oauth/token`,
        response_types_supported: [],
      });
    });

    it.each([
      ['GET', '?response_type=code&client_id=x&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=s'],
      ['GET', ''],
      ['POST', ''],
    ])('answers %s%s with unsupported_response_type, never a redirect', async (method, query) => {
      const path = `/oauth/authorize${query}`;
      const res =
        method === 'GET'
          ? await request(running.url).get(path).redirects(0)
          : await request(running.url).post(path).type('form').send({ response_type: 'code' }).redirects(0);
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ error: 'unsupported_response_type', error_description: expect.any(String) });
      expect(res.text).not.toContain('evil');
    });
  });
});
