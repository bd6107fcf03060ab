import request from 'supertest';
import { startApp, type RunningApp } from './support/app-starter.js';
import { dpopKey, proof, type DpopKey } from './support/dpop.js';
import { basic, expectOAuthError, form, TOKEN_PATH } from './support/oauth.js';
import { sharedReplayStores } from './support/replay-stores.js';

/**
 * Two instances behind one public URL, sharing the replay store and the signing key, with server nonces
 * on: a proof accepted by one is refused by the other, and a nonce handed out by one is accepted by the
 * other without any shared nonce state.
 */
describe.each(sharedReplayStores())('DPoP across two instances on %s', (_name, store) => {
  const ISSUER = 'http://api.keybridge.test';
  let a: RunningApp;
  let b: RunningApp;
  let done: () => Promise<void>;

  beforeAll(async () => {
    const shared = await store();
    done = shared.done;
    // Both instances on the real clock, as two servers behind one URL are.
    const options = { ...shared.options, dpop: { nonce: true }, clock: Date.now };
    a = await startApp('express', shared.databaseUrl, options, { issuer: ISSUER });
    b = await startApp('fastify', shared.databaseUrl, options, { issuer: ISSUER });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await done?.();
  });

  function tokenRequest(app: RunningApp, client: { id: string; key: string }, dpop: string) {
    return request(app.url)
      .post(TOKEN_PATH)
      .set('Authorization', basic(client.id, client.key))
      .set('DPoP', dpop)
      .type('form')
      .send(form({ grant_type: 'client_credentials' }));
  }

  /** A nonce from instance `from`, asked for the way a client learns it: a proof without one. */
  async function nonceFrom(
    from: RunningApp,
    client: { id: string; key: string },
    dk: DpopKey,
  ): Promise<string> {
    const res = await tokenRequest(
      from,
      client,
      await proof(dk, { htm: 'POST', htu: `${ISSUER}${TOKEN_PATH}`, now: Date.now() }),
    );
    expectOAuthError(res, 400, 'use_dpop_nonce');
    return res.headers['dpop-nonce'];
  }

  it("accepts one instance's nonce on the other, and each proof once across both", async () => {
    const client = await a.keys.create({ name: 'agent', scopes: ['orders:read'] });
    const dk = dpopKey('ES256');
    const nonce = await nonceFrom(a, client, dk);

    // A nonce made by a, used at b's token endpoint.
    const atToken = await proof(dk, {
      htm: 'POST',
      htu: `${ISSUER}${TOKEN_PATH}`,
      now: Date.now(),
      claims: { nonce },
    });
    const granted = await tokenRequest(b, client, atToken);
    expect(granted.status).toBe(200);
    expect(granted.body.token_type).toBe('DPoP');
    const token = granted.body.access_token as string;
    // The same token-endpoint proof again, at a: replayed.
    expectOAuthError(await tokenRequest(a, client, atToken), 400, 'invalid_dpop_proof', [atToken]);
    expect(a.events.filter((e) => e.type === 'auth.failed').at(-1)).toMatchObject({
      reason: 'dpop_replayed',
    });

    const sent = await proof(dk, {
      htm: 'GET',
      htu: `${ISSUER}/orders`,
      now: Date.now(),
      accessToken: token,
      claims: { nonce },
    });
    const get = (app: RunningApp) =>
      request(app.url).get('/orders').set('Authorization', `DPoP ${token}`).set('DPoP', sent);
    await get(a).expect(200, { orders: [] });
    const replayed = await get(b);
    expect(replayed.status).toBe(401);
    expect(replayed.headers['www-authenticate']).toMatch(/^DPoP realm="api", error="invalid_dpop_proof"/);
    expect(b.events.filter((e) => e.type === 'auth.failed').at(-1)).toMatchObject({
      reason: 'dpop_replayed',
      keyId: client.id,
    });
    expect(JSON.stringify(b.events)).not.toContain(sent);
  });

  it('asks a route request without a nonce for one, with the DPoP challenge', async () => {
    const client = await a.keys.create({ name: 'agent 2', scopes: ['orders:read'] });
    const dk = dpopKey();
    const nonce = await nonceFrom(b, client, dk);
    const atToken = await proof(dk, {
      htm: 'POST',
      htu: `${ISSUER}${TOKEN_PATH}`,
      now: Date.now(),
      claims: { nonce },
    });
    const token = (await tokenRequest(a, client, atToken).expect(200)).body.access_token as string;
    const sent = await proof(dk, {
      htm: 'GET',
      htu: `${ISSUER}/orders`,
      now: Date.now(),
      accessToken: token,
    });
    const res = await request(b.url).get('/orders').set('Authorization', `DPoP ${token}`).set('DPoP', sent);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('use_dpop_nonce');
    expect(res.headers['www-authenticate']).toMatch(/^DPoP realm="api", error="use_dpop_nonce", /);
    expect(res.headers['dpop-nonce']).toMatch(/^[A-Za-z0-9_-]{27}$/);
  });
});
