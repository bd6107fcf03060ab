import { decodeJwt } from 'jose';
import request from 'supertest';
import { AccessTokenService, type CreatedApiKey, type KeybridgeEvent } from 'nestjs-keybridge';
import { targetMatrix } from './support/databases.js';
import { expectInvalidToken } from './support/oauth.js';
import { DEFAULT_ISSUER as ISSUER, startApp, type RunningApp } from './support/app-starter.js';

const API_KEY_ONLY_CHALLENGE = 'ApiKey realm="api", header="X-API-Key"';
const RESOURCE_METADATA = `resource_metadata="${ISSUER}/.well-known/oauth-protected-resource"`;
/** Bearer first (RFC 9728 discovery reads it there), with the route's scopes, then the API-key scheme. */
const bothChallenges = (scope: string, error = '') =>
  `Bearer realm="api", ${error}${RESOURCE_METADATA}, scope="${scope}", ${API_KEY_ONLY_CHALLENGE}`;

interface Target {
  url: string;
  events: KeybridgeEvent[];
}

/** A token minted at `path` with the key's credentials (client_secret_basic). */
async function mint(
  target: Target,
  key: CreatedApiKey,
  scope?: string,
  path = '/oauth/token',
): Promise<string> {
  const res = await request(target.url)
    .post(path)
    .auth(key.id, key.key)
    .type('form')
    .send({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

/** The token with one character of its signature changed. */
function tampered(token: string): string {
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -2)}${last}${token.at(-1)}`;
}

function failuresSince(target: Target, since: number): KeybridgeEvent[] {
  return target.events.slice(since).filter((event) => event.type === 'auth.failed');
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe.each(targetMatrix())('bearer tokens through the guards (%s)', (_label, database, adapter) => {
  describe('@Scopes under the global guard', () => {
    let running: RunningApp;
    const keys: Record<string, CreatedApiKey> = {};
    const tokens: Record<string, string> = {};

    const SCOPES: Record<string, string[]> = {
      reader: ['orders:read'],
      writer: ['orders:read', 'orders:write'],
      wildcard: ['orders:*'],
      admin: ['keys:admin'],
    };

    beforeAll(async () => {
      running = await startApp(adapter, await database.fresh());
      for (const [name, scopes] of Object.entries(SCOPES)) {
        keys[name] = await running.keys.create({ name, scopes, subject: `app:${name}` });
        tokens[name] = await mint(running, keys[name]);
      }
    });

    afterAll(async () => {
      await running.close();
    });

    const http = () => request(running.url);
    const ROUTES: [string, (header: Record<string, string>) => request.Test][] = [
      ['GET /orders', (header) => http().get('/orders').set(header)],
      ['POST /orders', (header) => http().post('/orders').set(header).send({ item: 'widget', quantity: 2 })],
      ['GET /keys', (header) => http().get('/keys').set(header)],
      [
        'POST /keys',
        (header) =>
          http()
            .post('/keys')
            .set(header)
            .send({ name: 'made over http', scopes: ['orders:read'] }),
      ],
    ];

    it.each([
      ['reader', [200, 403, 403, 403]],
      ['writer', [200, 201, 403, 403]],
      ['wildcard', [200, 201, 403, 403]],
      ['admin', [403, 403, 200, 201]],
    ])('gives the %s key and its token the same answers on /orders and /keys', async (name, expected) => {
      const answers = async (header: Record<string, string>) => {
        const out: { status: number; code: unknown; message: unknown }[] = [];
        for (const [, send] of ROUTES) {
          const res = await send(header);
          out.push({ status: res.status, code: res.body.code, message: res.body.message });
        }
        return out;
      };
      const byKey = await answers({ 'X-API-Key': keys[name].key });
      const byToken = await answers(bearer(tokens[name]));
      expect(byKey.map((answer) => answer.status)).toEqual(expected);
      expect(byToken).toEqual(byKey);
    });

    it('lets a token of orders:* pass orders:read and orders:write', async () => {
      expect(decodeJwt(tokens.wildcard).scope).toBe('orders:*');
      await http().get('/orders').set(bearer(tokens.wildcard)).expect(200);
      await http()
        .post('/orders')
        .set(bearer(tokens.wildcard))
        .send({ item: 'gadget', quantity: 1 })
        .expect(201);
    });

    it('holds a token to the scopes it was minted with, not those of its key', async () => {
      const narrow = await mint(running, keys.writer, 'orders:read');
      await http().get('/orders').set(bearer(narrow)).expect(200);
      const res = await http().post('/orders').set(bearer(narrow)).send({ item: 'widget', quantity: 1 });
      expect(res.status).toBe(403);
      expect(res.body.message).toBe('Missing scopes: orders:write.');
      await http()
        .post('/orders')
        .set('X-API-Key', keys.writer.key)
        .send({ item: 'widget', quantity: 1 })
        .expect(201);
    });

    it('answers a token lacking a scope with 403 and the insufficient_scope Bearer challenge', async () => {
      const since = running.events.length;
      const res = await http()
        .post('/orders')
        .set(bearer(tokens.reader))
        .send({ item: 'widget', quantity: 1 });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        statusCode: 403,
        error: 'Forbidden',
        message: 'Missing scopes: orders:write.',
        code: 'insufficient_scope',
      });
      expect(res.headers['www-authenticate']).toBe(
        bothChallenges('orders:write', 'error="insufficient_scope", '),
      );
      expect(failuresSince(running, since)).toEqual([
        expect.objectContaining({ reason: 'insufficient_scope', keyId: keys.reader.id }),
      ]);
    });

    it('names every scope a class and handler need in the challenge', async () => {
      const res = await http().get('/keys').set(bearer(tokens.reader)).expect(403);
      expect(res.headers['www-authenticate']).toBe(
        bothChallenges('keys:admin', 'error="insufficient_scope", '),
      );
    });

    it('sends the insufficient_scope challenge with a 403 for an API key too', async () => {
      const res = await http()
        .post('/orders')
        .set('X-API-Key', keys.reader.key)
        .send({ item: 'widget', quantity: 1 })
        .expect(403);
      expect(res.headers['www-authenticate']).toBe(
        bothChallenges('orders:write', 'error="insufficient_scope", '),
      );
    });

    it("hands the controller the key's subject for a token, so both see the same orders", async () => {
      const placed = await http()
        .post('/orders')
        .set(bearer(tokens.writer))
        .send({ item: 'by token', quantity: 3 })
        .expect(201);
      expect(placed.body.placedBy).toBe('app:writer');
      const listed = await http().get('/orders').set('X-API-Key', keys.writer.key).expect(200);
      expect(listed.body.orders.map((order: { item: string }) => order.item)).toContain('by token');
      const other = await http().get('/orders').set(bearer(tokens.reader)).expect(200);
      expect(other.body.orders).toEqual([]);
    });
  });

  describe.each([
    ['the default verified-token cache', {}],
    ['tokenCache: false', { tokenCache: false as const }],
  ])('with %s', (_mode, options) => {
    let running: RunningApp;
    let reader: CreatedApiKey;

    beforeAll(async () => {
      running = await startApp(adapter, await database.fresh(), options);
      reader = await running.keys.create({ name: 'reader', scopes: ['orders:read'], subject: 'app:reader' });
    });

    afterAll(async () => {
      await running.close();
    });

    it('accepts a valid token on every request', async () => {
      const token = await mint(running, reader);
      for (let i = 0; i < 3; i++) {
        await request(running.url).get('/orders').set(bearer(token)).expect(200, { orders: [] });
      }
    });

    it('refuses a tampered token every time, also after the genuine one was used', async () => {
      const token = await mint(running, reader);
      await request(running.url).get('/orders').set(bearer(token)).expect(200);
      for (let i = 0; i < 2; i++) {
        const since = running.events.length;
        expectInvalidToken(
          await request(running.url)
            .get('/orders')
            .set(bearer(tampered(token))),
        );
        expect(failuresSince(running, since)).toEqual([
          expect.objectContaining({ reason: 'token_signature' }),
        ]);
      }
    });

    it('refuses a token revoked at /oauth/revoke at once, though it was used (and cached) before', async () => {
      const token = await mint(running, reader);
      const sibling = await mint(running, reader);
      await request(running.url).get('/orders').set(bearer(token)).expect(200);
      await request(running.url).get('/orders').set(bearer(sibling)).expect(200);
      const revoked = await request(running.url)
        .post('/oauth/revoke')
        .auth(reader.id, reader.key)
        .type('form')
        .send({ token });
      expect(revoked.status).toBe(200);
      expect(running.events).toContainEqual(
        expect.objectContaining({ type: 'token.revoked', keyId: reader.id, tokenId: decodeJwt(token).jti }),
      );
      const since = running.events.length;
      expectInvalidToken(await request(running.url).get('/orders').set(bearer(token)));
      expect(failuresSince(running, since)).toEqual([
        expect.objectContaining({ reason: 'token_revoked', keyId: reader.id }),
      ]);
      // Revoking one token leaves the others of the same key alone.
      await request(running.url).get('/orders').set(bearer(sibling)).expect(200);
    });

    it('refuses a token used (and cached) before at once when its key is revoked', async () => {
      const doomed = await running.keys.create({ name: 'doomed', scopes: ['orders:read'] });
      const token = await mint(running, doomed);
      await request(running.url).get('/orders').set(bearer(token)).expect(200);
      await running.keys.revoke(doomed.id, 'leaked');
      const since = running.events.length;
      expectInvalidToken(await request(running.url).get('/orders').set(bearer(token)));
      expect(failuresSince(running, since)).toEqual([
        expect.objectContaining({ reason: 'token_key_revoked', keyId: doomed.id }),
      ]);
    });
  });

  describe('the principal a controller sees (fixture app, guards per route)', () => {
    let fixture: RunningApp;
    let key: CreatedApiKey;

    beforeAll(async () => {
      fixture = await startApp(adapter, await database.fresh(), {}, { app: 'per-route' });
      key = await fixture.keys.create({
        name: 'alice',
        scopes: ['things:read', 'things:write'],
        subject: 'team:alice',
      });
    });

    afterAll(async () => {
      await fixture.close();
    });

    function tokenPrincipal(token: string, scopes: string[]) {
      const claims = decodeJwt(token);
      return {
        type: 'access_token',
        keyId: key.id,
        subject: 'team:alice',
        scopes,
        tokenId: claims.jti,
        audience: [ISSUER],
        expiresAt: new Date(claims.exp! * 1000).toISOString(),
      };
    }

    const keyPrincipal = () => ({
      type: 'api_key',
      keyId: key.id,
      subject: 'team:alice',
      name: 'alice',
      environment: 'live',
      scopes: ['things:read', 'things:write'],
      metadata: null,
    });

    describe.each([
      ['ApiKeyGuard', '/principal'],
      ['ApiKeyPassportGuard', '/principal/passport'],
    ])('%s', (_guard, path) => {
      it('attaches the token principal for a bearer token', async () => {
        const token = await mint(fixture, key, 'things:read');
        const res = await request(fixture.url).get(path).set(bearer(token)).expect(200);
        expect(res.body).toEqual(tokenPrincipal(token, ['things:read']));
      });

      it('attaches the key principal for an API key', async () => {
        const res = await request(fixture.url).get(path).set('X-API-Key', key.key).expect(200);
        expect(res.body).toEqual(keyPrincipal());
      });

      it('refuses a tampered token with invalid_token', async () => {
        const since = fixture.events.length;
        expectInvalidToken(
          await request(fixture.url)
            .get(path)
            .set(bearer(tampered(await mint(fixture, key)))),
        );
        expect(failuresSince(fixture, since)).toEqual([
          expect.objectContaining({ reason: 'token_signature' }),
        ]);
      });

      it('answers a token without the scope with 403 and the Bearer challenge', async () => {
        const token = await mint(fixture, key, 'things:read');
        const res = await request(fixture.url).get(`${path}/write`).set(bearer(token)).expect(403);
        expect(res.body.code).toBe('insufficient_scope');
        expect(res.headers['www-authenticate']).toBe(
          bothChallenges('things:write', 'error="insufficient_scope", '),
        );
      });

      it('refuses a key and a token together with 400', async () => {
        const token = await mint(fixture, key);
        const res = await request(fixture.url)
          .get(path)
          .set('X-API-Key', key.key)
          .set(bearer(token))
          .expect(400);
        expect(res.body.code).toBe('invalid_argument');
      });

      it('still answers a request without credentials with both challenges', async () => {
        const res = await request(fixture.url).get(path).expect(401);
        expect(res.body.code).toBe('missing_credentials');
        expect(res.headers['www-authenticate']).toBe(bothChallenges('things:read'));
      });
    });
  });

  describe('ApiKeyModule.forRoot({ ..., oauth: false })', () => {
    let fixture: RunningApp;
    let key: CreatedApiKey;
    let ownToken: string;

    beforeAll(async () => {
      fixture = await startApp(adapter, await database.fresh(), { oauth: false }, { app: 'per-route' });
      key = await fixture.keys.create({ name: 'alice', scopes: ['things:read'], subject: 'team:alice' });
      // A token the app's own signer made, so it is refused for being a bearer token, not for being bad.
      const verified = await fixture.keys.authenticate(key.key);
      ownToken = (await fixture.app.get(AccessTokenService).mint(verified, ['things:read'], [ISSUER]))
        .accessToken;
    });

    afterAll(async () => {
      await fixture.close();
    });

    it.each([
      ['POST', '/oauth/token'],
      ['POST', '/oauth/revoke'],
      ['POST', '/oauth/introspect'],
      ['GET', '/.well-known/jwks.json'],
      ['GET', '/.well-known/oauth-authorization-server'],
    ])('mounts no %s %s', async (method, path) => {
      const call = method === 'POST' ? request(fixture.url).post(path) : request(fixture.url).get(path);
      const res = await call.auth(key.id, key.key).type('form').send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(404);
    });

    it.each(['/principal', '/principal/passport'])(
      'treats a Bearer header on %s as no credential, with only the ApiKey challenge',
      async (path) => {
        const since = fixture.events.length;
        const res = await request(fixture.url).get(path).set(bearer(ownToken)).expect(401);
        expect(res.body).toEqual({
          statusCode: 401,
          error: 'Unauthorized',
          message: expect.any(String),
          code: 'missing_credentials',
        });
        expect(res.headers['www-authenticate']).toBe(API_KEY_ONLY_CHALLENGE);
        expect(failuresSince(fixture, since)).toEqual([
          expect.objectContaining({ reason: 'missing_credentials' }),
        ]);
      },
    );

    it.each(['/principal', '/principal/passport'])(
      'lets an API key through on %s despite a Bearer header beside it',
      async (path) => {
        const res = await request(fixture.url)
          .get(path)
          .set('X-API-Key', key.key)
          .set(bearer(ownToken))
          .expect(200);
        expect(res.body).toMatchObject({ type: 'api_key', keyId: key.id });
      },
    );
  });

  describe("ApiKeyModule.forRoot({ ..., oauth: { token: '/auth/token', revocation: '/auth/revoke' } })", () => {
    let fixture: RunningApp;
    let key: CreatedApiKey;

    beforeAll(async () => {
      fixture = await startApp(
        adapter,
        await database.fresh(),
        { oauth: { token: '/auth/token', revocation: '/auth/revoke' } },
        { app: 'per-route' },
      );
      key = await fixture.keys.create({ name: 'alice', scopes: ['things:read'], subject: 'team:alice' });
    });

    afterAll(async () => {
      await fixture.close();
    });

    it('mints at the configured path, and the token opens guarded routes', async () => {
      const token = await mint(fixture, key, undefined, '/auth/token');
      const res = await request(fixture.url).get('/principal').set(bearer(token)).expect(200);
      expect(res.body).toMatchObject({ type: 'access_token', keyId: key.id, subject: 'team:alice' });
    });

    it('no longer answers at the default paths', async () => {
      const token = await mint(fixture, key, undefined, '/auth/token');
      await request(fixture.url)
        .post('/oauth/token')
        .auth(key.id, key.key)
        .type('form')
        .send({ grant_type: 'client_credentials' })
        .expect(404);
      await request(fixture.url)
        .post('/oauth/revoke')
        .auth(key.id, key.key)
        .type('form')
        .send({ token })
        .expect(404);
      // The revocation above never happened.
      await request(fixture.url).get('/principal').set(bearer(token)).expect(200);
    });

    it('revokes at the configured path', async () => {
      const token = await mint(fixture, key, undefined, '/auth/token');
      await request(fixture.url).get('/principal').set(bearer(token)).expect(200);
      await request(fixture.url)
        .post('/auth/revoke')
        .auth(key.id, key.key)
        .type('form')
        .send({ token })
        .expect(200);
      expectInvalidToken(await request(fixture.url).get('/principal').set(bearer(token)));
    });

    it('names the moved endpoints in the server metadata', async () => {
      const res = await request(fixture.url).get('/.well-known/oauth-authorization-server').expect(200);
      expect(res.body).toMatchObject({
        issuer: ISSUER,
        token_endpoint: `${ISSUER}/auth/token`,
        revocation_endpoint: `${ISSUER}/auth/revoke`,
        introspection_endpoint: `${ISSUER}/oauth/introspect`,
        jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      });
    });
  });
});
