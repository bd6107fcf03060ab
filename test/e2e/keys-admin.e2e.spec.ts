import { generateKeyPairSync } from 'node:crypto';
import request from 'supertest';
import { targetMatrix } from './support/databases.js';
import { startSampleApp, type RunningApp } from './support/sample-app.js';

/** The sample app's key administration over HTTP, behind `keys:admin`. */
describe.each(targetMatrix())('key administration over HTTP (%s)', (_label, database, adapter) => {
  let running: RunningApp;
  let admin: string;

  beforeAll(async () => {
    running = await startSampleApp(adapter, await database.fresh());
    admin = (await running.keys.create({ name: 'admin', scopes: ['keys:admin'] })).key;
  });
  afterAll(() => running.close());

  const as = (key: string) => ({
    get: (path: string) => request(running.url).get(path).set('X-API-Key', key),
    post: (path: string) => request(running.url).post(path).set('X-API-Key', key),
    patch: (path: string) => request(running.url).patch(path).set('X-API-Key', key),
    put: (path: string) => request(running.url).put(path).set('X-API-Key', key),
  });

  it('answers a malformed JSON body without quoting it back', async () => {
    const res = await as(admin)
      .post('/keys')
      .set('Content-Type', 'application/json')
      .send(`{"name":"leak","metadata":{"secret":${admin}}}`)
      .expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, message: expect.any(String) });
    // Node's message quotes ten characters around the fault: the prefix and the key's first characters.
    expect(res.text).not.toContain('kb_live_');
    expect(res.text).not.toContain('secret');
  });

  it('creates a key, shows it once, and never again', async () => {
    const created = await as(admin)
      .post('/keys')
      .send({
        name: 'mobile app',
        scopes: ['orders:read'],
        subject: 'app:mobile',
        metadata: { team: 'mobile' },
        expiresIn: '30d',
      })
      .expect(201);
    expect(created.headers['cache-control']).toBe('no-store');
    expect(created.body).toEqual(
      expect.objectContaining({
        id: expect.stringMatching(/^key_/),
        key: expect.stringMatching(/^kb_live_/),
        subject: 'app:mobile',
        status: 'active',
        metadata: { team: 'mobile' },
      }),
    );
    const { id, key } = created.body as { id: string; key: string };
    expect(created.body.hint).toBe(`kb_live_…${key.slice(-4)}`);
    expect(created.body).not.toHaveProperty('keyHash');

    const listed = await as(admin).get('/keys').expect(200);
    expect(listed.body.keys.map((k: { id: string }) => k.id)).toContain(id);
    const one = await as(admin).get(`/keys/${id}`).expect(200);
    for (const body of [listed.text, one.text]) {
      expect(body).not.toContain(key);
      expect(body).not.toContain('keyHash');
    }

    await as(key).get('/orders').expect(200);
  });

  it('changes scopes and applies them at once', async () => {
    const { id, key } = (
      await as(admin)
        .post('/keys')
        .send({ name: 'grow', scopes: ['orders:read'] })
        .expect(201)
    ).body;
    await as(key).post('/orders').send({ item: 'pen', quantity: 3 }).expect(403);
    const updated = await as(admin)
      .patch(`/keys/${id}`)
      .send({ scopes: ['orders:read', 'orders:write'] })
      .expect(200);
    expect(updated.body.scopes).toEqual(['orders:read', 'orders:write']);
    await as(key).post('/orders').send({ item: 'pen', quantity: 3 }).expect(201);
  });

  it('sets named rate limits, which the export route (@Cost(5)) spends five units of', async () => {
    const { id, key } = (
      await as(admin)
        .post('/keys')
        .send({
          name: 'exporter',
          scopes: ['orders:read'],
          rateLimits: {
            burst: { limit: 6, window: '1m' },
            daily: { limit: 100, window: '1d', policy: 'sliding' },
          },
        })
        .expect(201)
    ).body;
    const shown = await as(admin).get(`/keys/${id}`).expect(200);
    expect(shown.body).toMatchObject({
      rateLimit: null,
      rateLimits: { burst: { limit: 6, windowSeconds: 60 }, daily: { limit: 100, windowSeconds: 86_400 } },
    });
    const exported = await as(key).post('/orders/export').expect(200);
    expect(exported.headers['ratelimit-policy']).toBe('"burst";q=6;w=60, "daily";q=100;w=86400');
    expect(exported.headers['ratelimit-remaining']).toBe('1');
    const refused = await as(key).post('/orders/export').expect(429);
    expect(refused.body).toMatchObject({ code: 'rate_limited', limit: 'burst', scope: 'key' });
    await as(key).get('/orders').expect(200);
    const bad = await as(admin)
      .patch(`/keys/${id}`)
      .send({ rateLimits: { burst: { limit: 0, window: '1m' } } })
      .expect(400);
    expect(bad.body).toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/rateLimits.burst/),
    });
  });

  it('registers a public key, requires proof, and refuses a private key without quoting it', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const jwk = publicKey.export({ format: 'jwk' });
    const { id, key } = (
      await as(admin)
        .post('/keys')
        .send({ name: 'agent', scopes: ['orders:read'], publicKey: jwk })
        .expect(201)
    ).body;
    await as(key).get('/orders').expect(200);
    const updated = await as(admin).patch(`/keys/${id}`).send({ requireProof: true }).expect(200);
    expect(updated.body).toMatchObject({
      publicKey: { kty: 'OKP', crv: 'Ed25519', x: jwk.x },
      requireProof: true,
    });
    await as(key).get('/orders').expect(401);
    const privateJwk = privateKey.export({ format: 'jwk' });
    const refused = await as(admin).patch(`/keys/${id}`).send({ publicKey: privateJwk }).expect(400);
    expect(refused.body).toMatchObject({ code: 'invalid_argument' });
    expect(refused.text).not.toContain(privateJwk.d);
    await as(admin).patch(`/keys/${id}`).send({ requireProof: 'yes' }).expect(400);
  });

  it('revokes a key at once and keeps it out of the default list', async () => {
    const { id, key } = (
      await as(admin)
        .post('/keys')
        .send({ name: 'leaky', scopes: ['orders:read'] })
        .expect(201)
    ).body;
    await as(key).get('/orders').expect(200);
    const revoked = await as(admin)
      .post(`/keys/${id}/revoke`)
      .send({ reason: 'leaked in a log' })
      .expect(200);
    expect(revoked.body).toEqual(
      expect.objectContaining({ status: 'revoked', revokedReason: 'leaked in a log' }),
    );
    await as(key).get('/orders').expect(401);
    const active = await as(admin).get('/keys').expect(200);
    expect(active.body.keys.map((k: { id: string }) => k.id)).not.toContain(id);
    const all = await as(admin).get('/keys?includeRevoked=true').expect(200);
    expect(all.body.keys.map((k: { id: string }) => k.id)).toContain(id);
    const change = await as(admin).patch(`/keys/${id}`).send({ name: 'again' }).expect(409);
    expect(change.body.code).toBe('key_conflict');
  });

  it('rotates with a grace period and answers the new key once, not cached', async () => {
    const key = await running.keys.create({ name: 'api rotate', scopes: ['orders:read'] });
    const res = await as(admin).post(`/keys/${key.id}/rotate`).send({ grace: '2h' }).expect(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ rotatedFromId: key.id, name: 'api rotate' });
    await as(res.body.key as string)
      .get('/orders')
      .expect(200);
    await as(key.key).get('/orders').expect(200);
    const again = await as(admin).post(`/keys/${key.id}/rotate`).send({}).expect(409);
    expect(again.body.code).toBe('key_conflict');
    const bad = await as(admin)
      .post(`/keys/${res.body.id}/rotate`)
      .send({ grace: { h: 1 } })
      .expect(400);
    expect(bad.body.code).toBe('invalid_request');
  });

  it('disables and enables', async () => {
    const key = await running.keys.create({ name: 'api switch', scopes: ['orders:read'] });
    expect((await as(admin).post(`/keys/${key.id}/disable`).send({}).expect(200)).body.status).toBe(
      'disabled',
    );
    await as(key.key).get('/orders').expect(401);
    expect((await as(admin).post(`/keys/${key.id}/enable`).send({}).expect(200)).body.status).toBe('active');
    await as(key.key).get('/orders').expect(200);
  });

  it('audits every change with the admin key that made it and the client address, never the key', async () => {
    const adminId = (await running.keys.list({ limit: 1000 })).find((k) => k.name === 'admin')!.id;
    const from = running.events.length;
    const created = await as(admin)
      .post('/keys')
      .send({ name: 'audited', scopes: ['orders:read'] })
      .expect(201);
    const { id, key } = created.body as { id: string; key: string };
    await as(admin).patch(`/keys/${id}`).send({ name: 'audited again' }).expect(200);
    await as(admin).post(`/keys/${id}/disable`).expect(200);
    await as(admin).post(`/keys/${id}/enable`).expect(200);
    const rotated = await as(admin).post(`/keys/${id}/rotate`).send({ grace: '1h' }).expect(201);
    await as(admin).post(`/keys/${id}/revoke`).send({ reason: 'done' }).expect(200);

    const changes = running.events.slice(from).filter((event) => event.type.startsWith('key.'));
    expect(changes.map((event) => event.type)).toEqual([
      'key.created',
      'key.updated',
      'key.disabled',
      'key.enabled',
      'key.rotated',
      'key.revoked',
    ]);
    for (const event of changes) {
      expect(event).toMatchObject({ keyId: id, ip: '127.0.0.1', actor: adminId });
    }
    const text = JSON.stringify(changes);
    expect(text).not.toContain(key);
    expect(text).not.toContain(rotated.body.key);
  });

  it('audits a key revoked through RFC 7009 as its own doing, with the client address', async () => {
    const { id, key } = await running.keys.create({ name: 'self-revoked', scopes: ['orders:read'] });
    const from = running.events.length;
    await request(running.url).post('/oauth/revoke').type('form').send({ token: key }).expect(200);
    expect(running.events.slice(from)).toContainEqual(
      expect.objectContaining({ type: 'key.revoked', keyId: id, ip: '127.0.0.1', actor: id }),
    );
  });

  it('answers bad input with 400 and unknown ids with 404, in the same error shape', async () => {
    const cases: [() => request.Test, number, string][] = [
      [
        () =>
          as(admin)
            .post('/keys')
            .send({ name: 'x', scopes: ['bad scope'] }),
        400,
        'invalid_argument',
      ],
      [() => as(admin).post('/keys').send({ name: '', scopes: [] }), 400, 'invalid_argument'],
      [
        () => as(admin).post('/keys').send({ name: 'x', scopes: [], expiresAt: '2001-01-01T00:00:00Z' }),
        400,
        'invalid_argument',
      ],
      [
        () =>
          as(admin)
            .post('/keys')
            .send({ name: 'x', scopes: [], allowedIps: ['999.1.1.1'] }),
        400,
        'invalid_argument',
      ],
      [
        () => as(admin).post('/keys').send({ name: 'x', scopes: [], expiresIn: 'soon' }),
        400,
        'invalid_argument',
      ],
      [() => as(admin).post('/keys').send([1, 2]), 400, 'invalid_request'],
      [() => as(admin).get('/keys?limit=abc'), 400, 'invalid_request'],
      [() => as(admin).get('/keys/key_nope'), 404, 'key_not_found'],
      [() => as(admin).get('/keys/key_%3Cscript%3E'), 404, 'key_not_found'],
      [() => as(admin).post('/keys/key_nope/revoke'), 404, 'key_not_found'],
    ];
    for (const [send, status, code] of cases) {
      const res = await send();
      expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
      expect(res.body).toEqual({
        statusCode: status,
        error: expect.any(String),
        message: expect.any(String),
        code,
      });
    }
  });

  it("sets and reads an owner's limits, shared by its keys; bad limits are 400 and non-admins 403", async () => {
    const subject = `team:${adapter}`;
    const path = `/subjects/${encodeURIComponent(subject)}/limits`;
    expect((await as(admin).get(path).expect(200)).body).toEqual({
      subject,
      rateLimit: null,
      remaining: null,
      quotaRefill: null,
      updatedAt: null,
    });
    const set = await as(admin)
      .put(path)
      .send({ rateLimit: { limit: 2, window: '1h' }, quotaRefill: { amount: 50, interval: '30d' } })
      .expect(200);
    expect(set.body).toMatchObject({ subject, rateLimit: { limit: 2, windowSeconds: 3600 }, remaining: 50 });
    const first = await running.keys.create({ name: 'team 1', subject, scopes: ['orders:read'] });
    const second = await running.keys.create({ name: 'team 2', subject, scopes: ['orders:read'] });
    await as(first.key).get('/orders').expect(200);
    await as(second.key).get('/orders').expect(200);
    const refused = await as(first.key).get('/orders').expect(429);
    expect(refused.body).toMatchObject({ statusCode: 429, code: 'rate_limited', scope: 'owner' });
    expect((await as(admin).get(path).expect(200)).body).toMatchObject({ remaining: 48 });

    const bad = await as(admin)
      .put(path)
      .send({ rateLimit: { limit: -1, window: '1m' } })
      .expect(400);
    expect(bad.body).toMatchObject({ statusCode: 400, code: 'invalid_argument' });
    await as(admin).put(path).send('[]').set('Content-Type', 'application/json').expect(400);
    await as(first.key).put(path).send({ rateLimit: null }).expect(403);
    await as(admin).put(path).send({ rateLimit: null, quotaRefill: null }).expect(200);
    await as(second.key).get('/orders').expect(200);
  });

  it('never echoes a key pasted where an id belongs', async () => {
    const { key } = (await as(admin).post('/keys').send({ name: 'pasted', scopes: [] }).expect(201)).body;
    const res = await as(admin).get(`/keys/${key}`).expect(404);
    expect(res.text).not.toContain(key);
  });

  it('answers hostile settings with 400, never 500 or 503', async () => {
    // Built as text: JSON.stringify itself runs out of stack on 5000 levels, and so would the server's.
    const deep = `{"name":"deep","scopes":[],"metadata":${'{"d":'.repeat(5000)}{}${'}'.repeat(5000)}}`;
    const raw = await as(admin).post('/keys').set('Content-Type', 'application/json').send(deep);
    expect({ status: raw.status, code: raw.body.code }).toEqual({ status: 400, code: 'invalid_argument' });
    const cases = [
      { name: 'big', scopes: [], remaining: 2 ** 31 },
      { name: 'big', scopes: [], remaining: Number.MAX_SAFE_INTEGER },
      { name: 'slow', scopes: [], quotaRefill: { amount: 1, interval: 1e20 } },
      { name: 'long', scopes: [], rateLimit: { limit: 2, window: '30d' } },
      { name: 'typed', scopes: 'orders:read' },
      { name: 'typed', scopes: [], metadata: [1] },
      { name: 'typed', scopes: [], rateLimit: 5 },
      { name: 'far', scopes: [], expiresIn: '100000000d' },
    ];
    for (const body of cases) {
      const res = await as(admin).post('/keys').send(body);
      expect({ name: body.name, status: res.status, code: res.body.code }).toEqual({
        name: body.name,
        status: 400,
        code: 'invalid_argument',
      });
    }
  });

  it('leaves an undecodable path to the framework: 400, no stack trace', async () => {
    const res = await as(admin).get('/keys/%00%ff').expect(400);
    expect(res.text).not.toMatch(/\bat .*\.(js|ts):\d+/);
  });
});
