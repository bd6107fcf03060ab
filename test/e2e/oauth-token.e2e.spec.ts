import { createPublicKey } from 'node:crypto';
import request from 'supertest';
import type { CreatedApiKey } from 'nestjs-keybridge';
import { ADAPTERS, sqlite, targetMatrix } from './support/databases.js';
import {
  ACCESS_TOKEN_TYPE,
  API_KEY_TOKEN_TYPE,
  basic,
  clientCredentials,
  decodeJwt,
  expectOAuthError,
  form,
  mintToken,
  TOKEN_EXCHANGE,
  TOKEN_PATH,
} from './support/oauth.js';
import { DEFAULT_ISSUER as ISSUER, startApp, type RunningApp } from './support/app-starter.js';
import { TEST_SIGNING_KEY } from './support/test-secrets.js';
import { withToken } from './support/guarded.requests.js';

/** The same key with one character of its random part changed: well-formed prefix, wrong secret. */
function mistyped(key: string): string {
  const index = 20;
  return key.slice(0, index) + (key[index] === 'A' ? 'B' : 'A') + key.slice(index + 1);
}

describe.each(ADAPTERS)('POST /oauth/token on SQLite (%s)', (adapter) => {
  let running: RunningApp;
  /** orders:read and orders:write, owned by app:shop. */
  let client: CreatedApiKey;
  /** orders:read only. */
  let reader: CreatedApiKey;
  /** orders:* */
  let wildcard: CreatedApiKey;
  const secrets = () => [client.key, reader.key, wildcard.key];

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh());
    client = await running.keys.create({
      name: 'shop',
      scopes: ['orders:read', 'orders:write'],
      subject: 'app:shop',
    });
    reader = await running.keys.create({ name: 'reader', scopes: ['orders:read'], subject: 'app:reader' });
    wildcard = await running.keys.create({ name: 'wildcard', scopes: ['orders:*'], subject: 'app:all' });
  });

  afterAll(async () => {
    await running.close();
  });

  const http = () => request(running.url);

  describe('client_credentials', () => {
    it('issues a token over client_secret_basic, exactly as RFC 6749 §5.1 says', async () => {
      const res = await clientCredentials(running.url, client.id, client.key);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['pragma']).toBe('no-cache');
      expect(res.body).toEqual({
        access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'orders:read orders:write',
      });
      await withToken(running, res.body.access_token).expect(200, { orders: [] });
    });

    it('issues a token over client_secret_post', async () => {
      const res = await http()
        .post(TOKEN_PATH)
        .type('form')
        .send(form({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.key }));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'orders:read orders:write',
      });
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['pragma']).toBe('no-cache');
      await withToken(running, res.body.access_token).expect(200);
    });

    it('issues a token for a bare X-API-Key header', async () => {
      const res = await http()
        .post(TOKEN_PATH)
        .set('X-API-Key', client.key)
        .type('form')
        .send(form({ grant_type: 'client_credentials' }));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'orders:read orders:write',
      });
      expect(decodeJwt(res.body.access_token).payload.client_id).toBe(client.id);
      await withToken(running, res.body.access_token).expect(200);
    });

    it('accepts the parameters as a JSON body', async () => {
      const res = await http()
        .post(TOKEN_PATH)
        .set('Content-Type', 'application/json')
        .send(
          JSON.stringify({
            grant_type: 'client_credentials',
            client_id: client.id,
            client_secret: client.key,
          }),
        );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'orders:read orders:write',
      });
      await withToken(running, res.body.access_token).expect(200);
    });

    it('lets the token place an order with the key subject as its owner', async () => {
      const token = await mintToken(running.url, client);
      const placed = await http()
        .post('/orders')
        .set('Authorization', `Bearer ${token}`)
        .send({ item: 'tea', quantity: 2 })
        .expect(201);
      expect(placed.body).toMatchObject({ item: 'tea', quantity: 2 });
      const listed = await withToken(running, token).expect(200);
      expect(listed.body.orders).toEqual([expect.objectContaining({ item: 'tea', quantity: 2 })]);
    });
  });

  describe('the access token (RFC 9068)', () => {
    it('has the header typ at+jwt, alg EdDSA and the kid the JWKS publishes', async () => {
      const { header } = decodeJwt(await mintToken(running.url, client));
      const jwks = await http().get('/.well-known/jwks.json').expect(200);
      expect(header).toEqual({ typ: 'at+jwt', alg: 'EdDSA', kid: jwks.body.keys[0].kid });
    });

    it('carries iss, sub, aud, exp, iat, jti, client_id and scope, and lives 900 s by default', async () => {
      const { payload } = decodeJwt(await mintToken(running.url, client));
      expect(payload).toEqual({
        iss: ISSUER,
        sub: 'app:shop',
        aud: ISSUER,
        exp: expect.any(Number),
        iat: Math.floor(running.clock.now / 1000),
        jti: expect.stringMatching(/^[A-Za-z0-9_-]{16,64}$/),
        client_id: client.id,
        scope: 'orders:read orders:write',
      });
      expect((payload.exp as number) - (payload.iat as number)).toBe(900);
    });

    it('gives every token its own jti', async () => {
      const first = decodeJwt(await mintToken(running.url, reader)).payload.jti;
      const second = decodeJwt(await mintToken(running.url, reader)).payload.jti;
      expect(first).not.toBe(second);
    });

    it('emits token.issued with the key id and never the key', async () => {
      const before = running.events.length;
      const token = await mintToken(running.url, client, { scope: 'orders:read' });
      const { payload } = decodeJwt(token);
      const issued = running.events.slice(before).filter((e) => e.type === 'token.issued');
      expect(issued).toEqual([
        {
          type: 'token.issued',
          keyId: client.id,
          tokenId: payload.jti,
          scopes: ['orders:read'],
          audience: [ISSUER],
          expiresAt: new Date((payload.exp as number) * 1000),
          grant: 'client_credentials',
          authMethod: 'client_secret_basic',
          ip: '127.0.0.1',
          at: expect.any(Date),
        },
      ]);
      const everything = JSON.stringify(running.events);
      for (const secret of secrets()) expect(everything).not.toContain(secret);
    });
  });

  describe('token exchange (RFC 8693)', () => {
    it('trades an API key for an access token and says so in issued_token_type', async () => {
      const before = running.events.length;
      const res = await http()
        .post(TOKEN_PATH)
        .type('form')
        .send(
          form({
            grant_type: TOKEN_EXCHANGE,
            subject_token: client.key,
            subject_token_type: API_KEY_TOKEN_TYPE,
          }),
        );
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['pragma']).toBe('no-cache');
      expect(res.body).toEqual({
        access_token: expect.any(String),
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'orders:read orders:write',
      });
      expect(decodeJwt(res.body.access_token).payload).toMatchObject({
        sub: 'app:shop',
        client_id: client.id,
      });
      await withToken(running, res.body.access_token).expect(200);
      expect(running.events.slice(before)).toContainEqual(
        expect.objectContaining({ type: 'token.issued', keyId: client.id, grant: 'token_exchange' }),
      );
    });

    it('answers invalid_request (RFC 8693 §2.2.2) for a subject_token that is not a valid key', async () => {
      const res = await http()
        .post(TOKEN_PATH)
        .type('form')
        .send(
          form({
            grant_type: TOKEN_EXCHANGE,
            subject_token: mistyped(client.key),
            subject_token_type: API_KEY_TOKEN_TYPE,
          }),
        );
      expectOAuthError(res, 400, 'invalid_request', [...secrets(), mistyped(client.key)]);
    });

    it('answers invalid_request when client_id names another client than the subject_token', async () => {
      const res = await http()
        .post(TOKEN_PATH)
        .type('form')
        .send(
          form({
            grant_type: TOKEN_EXCHANGE,
            client_id: reader.id,
            subject_token: client.key,
            subject_token_type: API_KEY_TOKEN_TYPE,
          }),
        );
      expectOAuthError(res, 400, 'invalid_request', secrets());
    });

    it('answers invalid_request for a subject_token of another client than the one authenticated', async () => {
      const res = await http()
        .post(TOKEN_PATH)
        .set('Authorization', basic(reader.id, reader.key))
        .type('form')
        .send(
          form({
            grant_type: TOKEN_EXCHANGE,
            subject_token: client.key,
            subject_token_type: API_KEY_TOKEN_TYPE,
          }),
        );
      expectOAuthError(res, 400, 'invalid_request', secrets());
    });

    it('answers invalid_request for another subject_token_type', async () => {
      const res = await http()
        .post(TOKEN_PATH)
        .type('form')
        .send(
          form({
            grant_type: TOKEN_EXCHANGE,
            subject_token: client.key,
            subject_token_type: ACCESS_TOKEN_TYPE,
          }),
        );
      expectOAuthError(res, 400, 'invalid_request', secrets());
    });
  });

  describe('scope', () => {
    it('down-scopes: a token asked for orders:read gets 403 insufficient_scope on POST /orders', async () => {
      const res = await clientCredentials(running.url, client.id, client.key, { scope: 'orders:read' });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('orders:read');
      const token = res.body.access_token as string;
      await withToken(running, token).expect(200);
      const refused = await http()
        .post('/orders')
        .set('Authorization', `Bearer ${token}`)
        .send({ item: 'tea', quantity: 1 })
        .expect(403);
      expect(refused.body).toEqual({
        statusCode: 403,
        error: 'Forbidden',
        message: expect.stringContaining('orders:write'),
        code: 'insufficient_scope',
      });
      expect(refused.headers['www-authenticate']).toBe(
        'Bearer realm="api", error="insufficient_scope", resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource", scope="orders:write", ApiKey realm="api", header="X-API-Key"',
      );
    });

    it('lets an orders:* key mint an orders:read token', async () => {
      const res = await clientCredentials(running.url, wildcard.id, wildcard.key, { scope: 'orders:read' });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('orders:read');
      expect(decodeJwt(res.body.access_token).payload.scope).toBe('orders:read');
      await withToken(running, res.body.access_token).expect(200);
      await http()
        .post('/orders')
        .set('Authorization', `Bearer ${res.body.access_token}`)
        .send({ item: 'tea', quantity: 1 })
        .expect(403);
    });

    it('answers invalid_scope for a scope the key does not hold', async () => {
      const res = await clientCredentials(running.url, reader.id, reader.key, { scope: 'orders:write' });
      expectOAuthError(res, 400, 'invalid_scope', secrets());
    });

    it('answers invalid_scope for a scope the key does not hold beside one it does', async () => {
      const res = await clientCredentials(running.url, reader.id, reader.key, {
        scope: 'orders:read keys:admin',
      });
      expectOAuthError(res, 400, 'invalid_scope', secrets());
    });

    it('answers invalid_scope for a malformed scope', async () => {
      const res = await clientCredentials(running.url, reader.id, reader.key, { scope: 'orders:read!<x>' });
      expectOAuthError(res, 400, 'invalid_scope', secrets());
    });
  });

  describe('error responses (RFC 6749 §5.2)', () => {
    /** A refused token request: what it sends, and what else must never appear in the answer. */
    interface Refusal {
      name: string;
      send: () => request.Test;
      status: number;
      error: string;
      challenge?: { is: string } | { contains: string };
      leaked?: () => string[];
    }
    const post = (headers: Record<string, string>, body: string) => {
      let req = http().post(TOKEN_PATH);
      for (const [name, value] of Object.entries(headers)) req = req.set(name, value);
      return req.type('form').send(body);
    };
    const BASIC_CHALLENGE = { is: 'Basic realm="api"' };

    it.each<Refusal>([
      {
        name: 'invalid_request when grant_type is missing',
        send: () => post({ Authorization: basic(client.id, client.key) }, form({ scope: 'orders:read' })),
        status: 400,
        error: 'invalid_request',
      },
      {
        name: 'unsupported_grant_type for an unknown grant',
        send: () =>
          post(
            { Authorization: basic(client.id, client.key) },
            form({ grant_type: 'password', username: 'a', password: 'b' }),
          ),
        status: 400,
        error: 'unsupported_grant_type',
      },
      {
        name: '401 invalid_client with a Basic challenge when the client does not authenticate',
        send: () => post({}, form({ grant_type: 'client_credentials' })),
        status: 401,
        error: 'invalid_client',
        challenge: BASIC_CHALLENGE,
      },
      {
        name: '401 invalid_client with a Basic challenge for a wrong secret over Basic',
        send: () => clientCredentials(running.url, client.id, mistyped(client.key)),
        status: 401,
        error: 'invalid_client',
        challenge: BASIC_CHALLENGE,
        leaked: () => [mistyped(client.key)],
      },
      {
        name: '401 invalid_client for a secret that is not a key at all',
        send: () => clientCredentials(running.url, client.id, 'hunter2'),
        status: 401,
        error: 'invalid_client',
        challenge: BASIC_CHALLENGE,
        leaked: () => ['hunter2'],
      },
      {
        name: '401 invalid_client when client_id names another key than the secret',
        send: () => clientCredentials(running.url, reader.id, client.key),
        status: 401,
        error: 'invalid_client',
        challenge: BASIC_CHALLENGE,
      },
      {
        name: '401 invalid_client when the client_secret_post client_id names another key',
        send: () =>
          post(
            {},
            form({ grant_type: 'client_credentials', client_id: reader.id, client_secret: client.key }),
          ),
        status: 401,
        error: 'invalid_client',
      },
      {
        name: '401 invalid_client with the API key challenge for a wrong X-API-Key header',
        send: () => post({ 'X-API-Key': mistyped(client.key) }, form({ grant_type: 'client_credentials' })),
        status: 401,
        error: 'invalid_client',
        challenge: { contains: 'ApiKey realm="api"' },
        leaked: () => [mistyped(client.key)],
      },
      {
        name: '401 invalid_client for Basic credentials that are not base64',
        send: () =>
          post({ Authorization: 'Basic %%%not-base64%%%' }, form({ grant_type: 'client_credentials' })),
        status: 401,
        error: 'invalid_client',
        challenge: BASIC_CHALLENGE,
      },
      {
        name: '401 invalid_client for Basic credentials without a colon',
        send: () =>
          post(
            { Authorization: `Basic ${Buffer.from(client.key).toString('base64')}` },
            form({ grant_type: 'client_credentials' }),
          ),
        status: 401,
        error: 'invalid_client',
        challenge: BASIC_CHALLENGE,
      },
      {
        name: '401 invalid_client for Basic credentials with a broken percent-escape',
        send: () =>
          post(
            { Authorization: `Basic ${Buffer.from(`${client.id}:%E0%A4%A`).toString('base64')}` },
            form({ grant_type: 'client_credentials' }),
          ),
        status: 401,
        error: 'invalid_client',
      },
      {
        name: 'invalid_request for Basic and client_secret_post at once',
        send: () =>
          post(
            { Authorization: basic(client.id, client.key) },
            form({ grant_type: 'client_credentials', client_id: client.id, client_secret: client.key }),
          ),
        status: 400,
        error: 'invalid_request',
      },
      {
        name: 'invalid_request for Basic and the X-API-Key header at once',
        send: () =>
          post(
            { Authorization: basic(client.id, client.key), 'X-API-Key': client.key },
            form({ grant_type: 'client_credentials' }),
          ),
        status: 400,
        error: 'invalid_request',
      },
      {
        name: 'invalid_request for a repeated grant_type',
        send: () =>
          post(
            { Authorization: basic(client.id, client.key) },
            'grant_type=client_credentials&grant_type=client_credentials',
          ),
        status: 400,
        error: 'invalid_request',
      },
      {
        name: 'invalid_request for client_secret without client_id',
        send: () => post({}, form({ grant_type: 'client_credentials', client_secret: client.key })),
        status: 400,
        error: 'invalid_request',
      },
    ])('answers $name', async ({ send, status, error, challenge, leaked }) => {
      const res = await send();
      expectOAuthError(res, status, error, [...secrets(), ...(leaked?.() ?? [])]);
      if (challenge && 'is' in challenge) expect(res.headers['www-authenticate']).toBe(challenge.is);
      if (challenge && 'contains' in challenge) {
        expect(res.headers['www-authenticate']).toContain(challenge.contains);
      }
    });

    it('answers 401 invalid_client for a revoked key', async () => {
      const doomed = await running.keys.create({ name: 'doomed', scopes: ['orders:read'] });
      await mintToken(running.url, doomed);
      await running.keys.revoke(doomed.id);
      const res = await clientCredentials(running.url, doomed.id, doomed.key);
      expectOAuthError(res, 401, 'invalid_client', [...secrets(), doomed.key]);
      expect(res.headers['www-authenticate']).toBe('Basic realm="api"');
    });

    it('answers 401 invalid_client for an expired key', async () => {
      const shortLived = await running.keys.create({
        name: 'short',
        scopes: ['orders:read'],
        expiresIn: '1h',
      });
      await mintToken(running.url, shortLived);
      const now = running.clock.now;
      running.clock.now = now + 2 * 3_600_000;
      try {
        const res = await clientCredentials(running.url, shortLived.id, shortLived.key);
        expectOAuthError(res, 401, 'invalid_client', [...secrets(), shortLived.key]);
        expect(running.events).toContainEqual(
          expect.objectContaining({ type: 'auth.failed', reason: 'expired', keyId: shortLived.id }),
        );
      } finally {
        running.clock.now = now;
      }
    });

    it('never lets a token outlive the key it was minted from', async () => {
      const shortLived = await running.keys.create({
        name: 'short',
        scopes: ['orders:read'],
        expiresIn: '5m',
      });
      const { payload } = decodeJwt(await mintToken(running.url, shortLived));
      expect(payload.exp).toBeLessThanOrEqual(Math.floor(running.clock.now / 1000) + 300);
    });

    it.each([
      ['a text/plain body', 'text/plain', 'grant_type=client_credentials'],
      ['a JSON array', 'application/json', '["grant_type", "client_credentials"]'],
      [
        'a JSON parameter that is not a string',
        'application/json',
        JSON.stringify({ grant_type: 'client_credentials', scope: { $ne: '' } }),
      ],
      ['an empty form body', 'application/x-www-form-urlencoded', ''],
    ])('answers 400 invalid_request for %s', async (_what, type, body) => {
      const res = await http()
        .post(TOKEN_PATH)
        .set('Authorization', basic(client.id, client.key))
        .set('Content-Type', type)
        .send(body);
      expectOAuthError(res, 400, 'invalid_request', secrets());
    });

    it('answers an XML body with a 4xx, never a 500 or the key', async () => {
      // Express hands the endpoint an empty body (400 invalid_request); Fastify refuses an unknown media type
      // itself, with 415, before the endpoint runs (a documented limit: see the README's decisions).
      const res = await http()
        .post(TOKEN_PATH)
        .set('Authorization', basic(client.id, client.key))
        .set('Content-Type', 'application/xml')
        .send('<grant_type>client_credentials</grant_type>');
      if (adapter === 'express') expectOAuthError(res, 400, 'invalid_request', secrets());
      else {
        expect(res.status).toBe(415);
        expect(res.text).not.toContain(client.key);
      }
    });

    it('answers 400 for malformed JSON, without a stack trace or the key', async () => {
      const res = await http()
        .post(TOKEN_PATH)
        .set('Authorization', basic(client.id, client.key))
        .set('Content-Type', 'application/json')
        .send(`{"grant_type": "client_credentials", "client_secret": "${client.key}"`);
      expect(res.status).toBe(400);
      expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
      expect(res.text).not.toContain(client.key);
    });

    it('answers 400 invalid_request for an empty body', async () => {
      const res = await http().post(TOKEN_PATH).set('Authorization', basic(client.id, client.key));
      expectOAuthError(res, 400, 'invalid_request', secrets());
    });

    it('answers 400 unauthorized_client for a key whose allowedIps exclude the caller', async () => {
      const fenced = await running.keys.create({
        name: 'fenced',
        scopes: ['orders:read'],
        allowedIps: ['10.0.0.0/8'],
      });
      const res = await clientCredentials(running.url, fenced.id, fenced.key);
      expectOAuthError(res, 400, 'unauthorized_client', [...secrets(), fenced.key]);
      expect(running.events).toContainEqual(
        expect.objectContaining({ type: 'auth.failed', reason: 'forbidden_ip', keyId: fenced.id }),
      );
    });

    it('never puts a key into an audit event', () => {
      const everything = JSON.stringify(running.events);
      for (const secret of secrets()) expect(everything).not.toContain(secret);
    });
  });

  describe('discovery documents', () => {
    it('GET /.well-known/jwks.json publishes the public key only, with kid, alg and use', async () => {
      const res = await http().get('/.well-known/jwks.json').expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const publicJwk = createPublicKey(TEST_SIGNING_KEY).export({ format: 'jwk' });
      expect(res.body).toEqual({
        keys: [
          {
            kty: 'OKP',
            crv: 'Ed25519',
            x: publicJwk.x,
            kid: expect.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
            alg: 'EdDSA',
            use: 'sig',
          },
        ],
      });
      for (const jwk of res.body.keys as Record<string, unknown>[]) {
        for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(jwk).not.toHaveProperty(member);
      }
    });

    it('GET /.well-known/oauth-authorization-server describes the server (RFC 8414)', async () => {
      const res = await http().get('/.well-known/oauth-authorization-server').expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({
        issuer: ISSUER,
        token_endpoint: `${ISSUER}/oauth/token`,
        revocation_endpoint: `${ISSUER}/oauth/revoke`,
        introspection_endpoint: `${ISSUER}/oauth/introspect`,
        jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      });
      expect(res.body.grant_types_supported).toEqual(
        expect.arrayContaining(['client_credentials', TOKEN_EXCHANGE]),
      );
      expect(res.body.scopes_supported).toEqual(
        expect.arrayContaining(['orders:read', 'orders:write', 'keys:admin', 'tokens:introspect']),
      );
      expect(res.body.token_endpoint_auth_methods_supported).toEqual(
        expect.arrayContaining(['client_secret_basic', 'client_secret_post']),
      );
    });
  });
});

describe.each(ADAPTERS)('audience and resource (%s)', (adapter) => {
  const A = 'https://a.example';
  const B = 'https://b.example';
  let running: RunningApp;
  let client: CreatedApiKey;

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh(), { audience: [A, B] });
    client = await running.keys.create({ name: 'shop', scopes: ['orders:read'], subject: 'app:shop' });
  });

  afterAll(async () => {
    await running.close();
  });

  it('names the first configured audience when the client asks for none', async () => {
    const token = await mintToken(running.url, client);
    expect(decodeJwt(token).payload.aud).toBe(A);
    await withToken(running, token).expect(200);
  });

  it('puts a requested audience into aud, and the token works', async () => {
    const token = await mintToken(running.url, client, { audience: B });
    expect(decodeJwt(token).payload.aud).toBe(B);
    await withToken(running, token).expect(200);
  });

  it('puts a requested resource into aud', async () => {
    const token = await mintToken(running.url, client, { resource: B });
    expect(decodeJwt(token).payload.aud).toBe(B);
  });

  it('puts several requested audiences into aud as a list', async () => {
    const res = await request(running.url)
      .post(TOKEN_PATH)
      .set('Authorization', basic(client.id, client.key))
      .type('form')
      .send(
        `grant_type=client_credentials&audience=${encodeURIComponent(A)}&resource=${encodeURIComponent(B)}`,
      );
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).payload.aud).toEqual([A, B]);
  });

  it('answers 400 invalid_target for an audience it does not serve', async () => {
    const res = await clientCredentials(running.url, client.id, client.key, {
      audience: 'https://c.example',
    });
    expectOAuthError(res, 400, 'invalid_target', [client.key]);
  });

  it('answers 400 invalid_target for a resource it does not serve', async () => {
    const res = await clientCredentials(running.url, client.id, client.key, {
      resource: 'https://a.example/x',
    });
    expectOAuthError(res, 400, 'invalid_target', [client.key]);
  });

  it('answers 400 invalid_target when one of several audiences is unknown', async () => {
    const res = await request(running.url)
      .post(TOKEN_PATH)
      .set('Authorization', basic(client.id, client.key))
      .type('form')
      .send(
        `grant_type=client_credentials&audience=${encodeURIComponent(A)}&audience=https%3A%2F%2Fevil.example`,
      );
    expectOAuthError(res, 400, 'invalid_target', [client.key]);
  });
});

describe.each(ADAPTERS)('token minting limits (%s)', (adapter) => {
  function expectRateLimited(res: Parameters<typeof expectOAuthError>[0], secret: string): void {
    expectOAuthError(res, 429, 'rate_limited', [secret]);
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers['ratelimit-limit']).toBe('2');
    expect(res.headers['ratelimit-remaining']).toBe('0');
    expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(0);
  }

  it('limits tokens per key with 429, Retry-After and RateLimit-* headers', async () => {
    const running = await startApp(adapter, await sqlite.fresh(), {
      tokenRateLimit: { perKey: { limit: 2, window: '1m' } },
    });
    try {
      const busy = await running.keys.create({ name: 'busy', scopes: ['orders:read'] });
      const other = await running.keys.create({ name: 'other', scopes: ['orders:read'] });
      const token = await mintToken(running.url, busy);
      await mintToken(running.url, busy);
      expectRateLimited(await clientCredentials(running.url, busy.id, busy.key), busy.key);
      // The limit is the key's own: another key still mints, and tokens already issued still work.
      await mintToken(running.url, other);
      await withToken(running, token).expect(200);
    } finally {
      await running.close();
    }
  });

  it('limits requests per client address with 429, Retry-After and RateLimit-* headers', async () => {
    const running = await startApp(adapter, await sqlite.fresh(), {
      tokenRateLimit: { perKey: false, perAddress: { limit: 2, window: '1m' } },
    });
    try {
      const keys = await Promise.all(
        ['one', 'two', 'three'].map((name) => running.keys.create({ name, scopes: ['orders:read'] })),
      );
      await mintToken(running.url, keys[0]);
      await mintToken(running.url, keys[1]);
      expectRateLimited(await clientCredentials(running.url, keys[2].id, keys[2].key), keys[2].key);
    } finally {
      await running.close();
    }
  });
});

/** The core flow on every database and adapter: mint, use, revoke the key, and the token is refused. */
describe.each(targetMatrix())('token core flow (%s)', (_label, database, adapter) => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp(adapter, await database.fresh());
  });

  afterAll(async () => {
    await running.close();
  });

  it('mints a token, uses it, and refuses it once its key is revoked', async () => {
    const key = await running.keys.create({ name: 'core', scopes: ['orders:read'], subject: 'app:core' });
    const res = await clientCredentials(running.url, key.id, key.key);
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;
    await withToken(running, token).expect(200, { orders: [] });

    await running.keys.revoke(key.id);

    const refused = await withToken(running, token).expect(401);
    expect(refused.body).toMatchObject({ code: 'invalid_token' });
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
    await request(running.url).get('/orders').set('X-API-Key', key.key).expect(401);
    expectOAuthError(await clientCredentials(running.url, key.id, key.key), 401, 'invalid_client', [key.key]);
    expect(running.events).toContainEqual(
      expect.objectContaining({ type: 'auth.failed', reason: 'token_key_revoked', keyId: key.id }),
    );
  });
});
