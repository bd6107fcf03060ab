import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import request from 'supertest';
import type { CreatedApiKey } from 'nestjs-keybridge';
import { ADAPTERS, sqlite, targetMatrix } from './support/databases.js';
import {
  basic,
  decodeJwt,
  expectOAuthError,
  form,
  INTROSPECT_PATH,
  mintToken,
  REVOKE_PATH,
} from './support/oauth.js';
import { DEFAULT_ISSUER as ISSUER, startApp, type RunningApp } from './support/app-starter.js';
import { withToken } from './support/guarded.requests.js';

/** Expects the bearer token to be refused on `GET /orders` with 401 invalid_token. */
async function expectRefused(url: string, token: string): Promise<void> {
  const res = await withToken({ url }, token);
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ code: 'invalid_token' });
  expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
}

function revoke(url: string, client: { id: string; key: string } | undefined, token: string | undefined) {
  const req = request(url).post(REVOKE_PATH).type('form');
  if (client) req.set('Authorization', basic(client.id, client.key));
  return req.send(form(token === undefined ? {} : { token }));
}

function introspect(url: string, client: { id: string; key: string } | undefined, token: string) {
  const req = request(url).post(INTROSPECT_PATH).type('form');
  if (client) req.set('Authorization', basic(client.id, client.key));
  return req.send(form({ token }));
}

/** A well-formed token for this issuer signed by a key the app does not know. */
async function foreignToken(clientId: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return new SignJWT({ client_id: clientId, scope: 'orders:read', jti: 'foreignjti0123456789ab' })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'someone-else' })
    .setIssuer(ISSUER)
    .setAudience(ISSUER)
    .setSubject('app:intruder')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(privateKey);
}

describe.each(ADAPTERS)('POST /oauth/revoke on SQLite (%s)', (adapter) => {
  let running: RunningApp;
  let owner: CreatedApiKey;
  let other: CreatedApiKey;
  let admin: CreatedApiKey;
  const secrets = () => [owner.key, other.key, admin.key];

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh(), { denylist: 'database' });
    owner = await running.keys.create({ name: 'owner', scopes: ['orders:read'], subject: 'app:owner' });
    other = await running.keys.create({ name: 'other', scopes: ['orders:read'], subject: 'app:other' });
    admin = await running.keys.create({ name: 'admin', scopes: ['keys:admin'], subject: 'team:ops' });
  });

  afterAll(async () => {
    await running.close();
  });

  it('revokes the client its own token: 200, then the token gets 401 invalid_token', async () => {
    const token = await mintToken(running.url, owner);
    await withToken(running, token).expect(200);
    const res = await revoke(running.url, owner, token);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    await expectRefused(running.url, token);
    // Only that token: the key and its other tokens still work.
    await withToken(running, await mintToken(running.url, owner)).expect(200);
    await request(running.url).get('/orders').set('X-API-Key', owner.key).expect(200);
    expect(running.events).toContainEqual(
      expect.objectContaining({
        type: 'token.revoked',
        keyId: owner.id,
        tokenId: decodeJwt(token).payload.jti,
      }),
    );
    expect(running.events).toContainEqual(
      expect.objectContaining({ type: 'auth.failed', reason: 'token_revoked', keyId: owner.id }),
    );
  });

  it('answers 200 for a garbage token', async () => {
    const res = await revoke(running.url, owner, 'not-a-token');
    expect(res.status).toBe(200);
  });

  it('answers 200 for a well-formed token it never issued', async () => {
    const res = await revoke(running.url, owner, await foreignToken(owner.id));
    expect(res.status).toBe(200);
  });

  it('answers 200 for a token that is already revoked', async () => {
    const token = await mintToken(running.url, owner);
    await revoke(running.url, owner, token).expect(200);
    await revoke(running.url, owner, token).expect(200);
    await expectRefused(running.url, token);
  });

  it("refuses another client's token with 400 unauthorized_client and leaves it working", async () => {
    const token = await mintToken(running.url, owner);
    const res = await revoke(running.url, other, token);
    expectOAuthError(res, 400, 'unauthorized_client', secrets());
    await withToken(running, token).expect(200);
  });

  it('answers 401 invalid_client when no client authenticates to revoke an access token', async () => {
    const token = await mintToken(running.url, owner);
    const res = await revoke(running.url, undefined, token);
    expectOAuthError(res, 401, 'invalid_client', secrets());
    expect(res.headers['www-authenticate']).toBe('Basic realm="api"');
    await withToken(running, token).expect(200);
  });

  it('answers 401 invalid_client when the client secret is wrong', async () => {
    const token = await mintToken(running.url, owner);
    const res = await revoke(running.url, { id: owner.id, key: 'wrong' }, token);
    expectOAuthError(res, 401, 'invalid_client', secrets());
    await withToken(running, token).expect(200);
  });

  it('answers 400 invalid_request when token is missing', async () => {
    const res = await revoke(running.url, owner, undefined);
    expectOAuthError(res, 400, 'invalid_request', secrets());
  });

  it('revokes an API key sent as token without client authentication, and every token minted from it', async () => {
    const doomed = await running.keys.create({ name: 'doomed', scopes: ['orders:read'] });
    const token = await mintToken(running.url, doomed);
    await withToken(running, token).expect(200);
    const res = await revoke(running.url, undefined, doomed.key);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(doomed.key);
    await request(running.url).get('/orders').set('X-API-Key', doomed.key).expect(401);
    await expectRefused(running.url, token);
    expect((await running.keys.get(doomed.id)).status).toBe('revoked');
  });

  it('revokes an API key sent as token with that same key as client authentication', async () => {
    const doomed = await running.keys.create({ name: 'doomed', scopes: ['orders:read'] });
    const token = await mintToken(running.url, doomed);
    const res = await revoke(running.url, doomed, doomed.key);
    expect(res.status).toBe(200);
    await request(running.url).get('/orders').set('X-API-Key', doomed.key).expect(401);
    await expectRefused(running.url, token);
    expect(running.events).toContainEqual(expect.objectContaining({ type: 'key.revoked', keyId: doomed.id }));
  });

  it("refuses to revoke another client's API key with 400 unauthorized_client", async () => {
    const target = await running.keys.create({ name: 'target', scopes: ['orders:read'] });
    const res = await revoke(running.url, owner, target.key);
    expectOAuthError(res, 400, 'unauthorized_client', [...secrets(), target.key]);
    await request(running.url).get('/orders').set('X-API-Key', target.key).expect(200);
  });

  it('answers 200 for an API key that was never issued, and revokes nothing', async () => {
    const res = await revoke(running.url, undefined, `kb_live_${'A'.repeat(49)}`);
    expect(res.status).toBe(200);
    await request(running.url).get('/orders').set('X-API-Key', owner.key).expect(200);
  });

  it("kills a key's tokens when the admin API revokes the key", async () => {
    const doomed = await running.keys.create({ name: 'doomed', scopes: ['orders:read'] });
    const token = await mintToken(running.url, doomed);
    await withToken(running, token).expect(200);
    await request(running.url)
      .post(`/keys/${doomed.id}/revoke`)
      .set('X-API-Key', admin.key)
      .send({ reason: 'leaked' })
      .expect(200);
    await expectRefused(running.url, token);
    await request(running.url).get('/orders').set('X-API-Key', doomed.key).expect(401);
  });

  it("kills a key's tokens when ApiKeyService.revoke() revokes the key", async () => {
    const doomed = await running.keys.create({ name: 'doomed', scopes: ['orders:read'] });
    const token = await mintToken(running.url, doomed);
    await withToken(running, token).expect(200);
    await running.keys.revoke(doomed.id);
    await expectRefused(running.url, token);
    expect(running.events).toContainEqual(
      expect.objectContaining({ type: 'auth.failed', reason: 'token_key_revoked', keyId: doomed.id }),
    );
  });

  it('lets a key whose quota and rate limit are used up revoke its tokens, at no cost', async () => {
    const drained = await running.keys.create({
      name: 'drained',
      scopes: ['orders:read'],
      remaining: 2,
      rateLimit: { limit: 2, window: '1h' },
    });
    const token = await mintToken(running.url, drained); // one unit of each
    await withToken(running, token).expect(200); // the last unit of each
    expect((await withToken(running, token)).status).toBe(429);

    await revoke(running.url, drained, token).expect(200);
    await expectRefused(running.url, token);
    expect((await running.keys.get(drained.id)).remaining).toBe(0);
  });

  it('never puts a key into an audit event', () => {
    const everything = JSON.stringify(running.events);
    for (const secret of secrets()) expect(everything).not.toContain(secret);
  });
});

describe.each(ADAPTERS)('POST /oauth/introspect on SQLite (%s)', (adapter) => {
  let running: RunningApp;
  let inspector: CreatedApiKey;
  let plain: CreatedApiKey;
  let subjectKey: CreatedApiKey;
  const secrets = () => [inspector.key, plain.key, subjectKey.key];

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh());
    inspector = await running.keys.create({ name: 'gateway', scopes: ['tokens:introspect'] });
    plain = await running.keys.create({ name: 'plain', scopes: ['orders:read'] });
    subjectKey = await running.keys.create({
      name: 'shop',
      scopes: ['orders:read', 'orders:write'],
      subject: 'app:shop',
    });
  });

  afterAll(async () => {
    await running.close();
  });

  it("answers a live token's claims to a client holding tokens:introspect", async () => {
    const token = await mintToken(running.url, subjectKey, { scope: 'orders:read' });
    const { payload } = decodeJwt(token);
    const res = await introspect(running.url, inspector, token);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      active: true,
      iss: ISSUER,
      sub: 'app:shop',
      aud: ISSUER,
      exp: payload.exp,
      iat: payload.iat,
      jti: payload.jti,
      client_id: subjectKey.id,
      scope: 'orders:read',
      token_type: 'Bearer',
    });
  });

  it('answers { active: false } for a revoked token', async () => {
    const token = await mintToken(running.url, subjectKey);
    await revoke(running.url, subjectKey, token).expect(200);
    const res = await introspect(running.url, inspector, token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });

  it('answers { active: false } for a token whose key was revoked', async () => {
    const doomed = await running.keys.create({ name: 'doomed', scopes: ['orders:read'] });
    const token = await mintToken(running.url, doomed);
    await introspect(running.url, inspector, token).expect(200, { active: true, ...introspected(token) });
    await running.keys.revoke(doomed.id);
    await introspect(running.url, inspector, token).expect(200, { active: false });
  });

  it('answers { active: false } for an expired token', async () => {
    const token = await mintToken(running.url, subjectKey);
    await introspect(running.url, inspector, token).expect(200, { active: true, ...introspected(token) });
    const now = running.clock.now;
    const exp = decodeJwt(token).payload.exp as number;
    running.clock.now = (exp + 10) * 1000;
    try {
      const res = await introspect(running.url, inspector, token);
      expect(res.body).toEqual({ active: false });
      await expectRefused(running.url, token);
    } finally {
      running.clock.now = now;
    }
  });

  it('answers { active: false } for garbage', async () => {
    const res = await introspect(running.url, inspector, 'garbage.garbage.garbage');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });

  it('answers { active: false } for a token signed by a key it does not know', async () => {
    const res = await introspect(running.url, inspector, await foreignToken(subjectKey.id));
    expect(res.body).toEqual({ active: false });
  });

  it('answers { active: false } for an API key, without echoing or revoking it', async () => {
    const res = await introspect(running.url, inspector, subjectKey.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
    expect(res.text).not.toContain(subjectKey.key);
    await request(running.url).get('/orders').set('X-API-Key', subjectKey.key).expect(200);
  });

  it('answers 403 insufficient_scope to a client without tokens:introspect', async () => {
    const token = await mintToken(running.url, subjectKey);
    const res = await introspect(running.url, plain, token);
    expectOAuthError(res, 403, 'insufficient_scope', secrets());
  });

  it("answers 403 insufficient_scope to the token's own client without tokens:introspect", async () => {
    const token = await mintToken(running.url, subjectKey);
    const res = await introspect(running.url, subjectKey, token);
    expectOAuthError(res, 403, 'insufficient_scope', secrets());
  });

  it('answers 401 invalid_client when no client authenticates', async () => {
    const token = await mintToken(running.url, subjectKey);
    const res = await introspect(running.url, undefined, token);
    expectOAuthError(res, 401, 'invalid_client', secrets());
    expect(res.headers['www-authenticate']).toBe('Basic realm="api"');
  });

  it('answers 401 invalid_client for a wrong client secret', async () => {
    const token = await mintToken(running.url, subjectKey);
    const res = await introspect(running.url, { id: inspector.id, key: subjectKey.key }, token);
    expectOAuthError(res, 401, 'invalid_client', secrets());
  });

  it('answers 400 invalid_request when token is missing', async () => {
    const res = await request(running.url)
      .post(INTROSPECT_PATH)
      .set('Authorization', basic(inspector.id, inspector.key))
      .type('form')
      .send('');
    expectOAuthError(res, 400, 'invalid_request', secrets());
  });

  /** The claims introspection reports for a live token. */
  function introspected(token: string) {
    return { ...decodeJwt(token).payload, token_type: 'Bearer' };
  }
});

/** Token revocation on every database and adapter: the denylist lives in the app's database. */
describe.each(targetMatrix())('token revocation core flow (%s)', (_label, database, adapter) => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp(adapter, await database.fresh());
  });

  afterAll(async () => {
    await running.close();
  });

  it('revokes a token through /oauth/revoke, then introspection and /orders refuse it', async () => {
    const client = await running.keys.create({
      name: 'core',
      scopes: ['orders:read', 'tokens:introspect'],
      subject: 'app:core',
    });
    const token = await mintToken(running.url, client);
    await withToken(running, token).expect(200);
    expect((await introspect(running.url, client, token)).body).toMatchObject({ active: true });
    await revoke(running.url, client, token).expect(200);
    await expectRefused(running.url, token);
    expect((await introspect(running.url, client, token)).body).toEqual({ active: false });
    // Revoking the key itself then kills its other tokens and the key.
    const second = await mintToken(running.url, client);
    await revoke(running.url, undefined, client.key).expect(200);
    await expectRefused(running.url, second);
    await request(running.url).get('/orders').set('X-API-Key', client.key).expect(401);
  });
});
