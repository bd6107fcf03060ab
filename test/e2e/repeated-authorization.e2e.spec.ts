import type { CreatedApiKey } from 'nestjs-keybridge';
import { ADAPTERS, sqlite } from './support/databases.js';
import { basic, form, mintToken, TOKEN_PATH } from './support/oauth.js';
import { rawRequest, type RawResponse } from './support/raw-http.js';
import { startApp, type RunningApp } from './support/app-starter.js';

/**
 * Node keeps the first of two `Authorization` headers and drops the second from `req.headers`, so without a
 * look at the raw headers `Bearer <good>` + `Bearer x` would pass as the good one. Sent byte for byte.
 */
describe.each(ADAPTERS)('a repeated Authorization header (%s)', (adapter) => {
  let running: RunningApp;
  let reader: CreatedApiKey;
  let token: string;

  beforeAll(async () => {
    running = await startApp(adapter, await sqlite.fresh());
    reader = await running.keys.create({ name: 'reader', scopes: ['orders:read'] });
    token = await mintToken(running.url, reader);
  });

  afterAll(() => running.close());

  const get = (headers: string[]) =>
    rawRequest(running.port, ['GET /orders HTTP/1.1', 'Host: x', ...headers].join('\r\n'));

  function expectRefusedToken(res: RawResponse): void {
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: expect.any(String),
      code: 'invalid_token',
    });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
    expect(res.body).not.toContain(token);
  }

  it('accepts the token sent once (the control)', async () => {
    expect((await get([`Authorization: Bearer ${token}`])).status).toBe(200);
  });

  it('refuses a good token followed by a second Authorization header, and audits why', async () => {
    const since = running.events.length;
    expectRefusedToken(await get([`Authorization: Bearer ${token}`, 'Authorization: Bearer x']));
    expect(running.events.slice(since)).toContainEqual(
      expect.objectContaining({ type: 'auth.failed', reason: 'token_duplicate_header' }),
    );
  });

  it('refuses the same token sent twice, and a good token after another scheme', async () => {
    expectRefusedToken(await get([`Authorization: Bearer ${token}`, `authorization: Bearer ${token}`]));
    expectRefusedToken(await get([`Authorization: Bearer ${token}`, 'Authorization: Basic eDp5']));
  });

  it('refuses two Authorization headers at the token endpoint', async () => {
    const body = form({ grant_type: 'client_credentials' });
    const res = await rawRequest(
      running.port,
      [
        `POST ${TOKEN_PATH} HTTP/1.1`,
        'Host: x',
        'Content-Type: application/x-www-form-urlencoded',
        `Content-Length: ${body.length}`,
        `Authorization: ${basic(reader.id, reader.key)}`,
        'Authorization: Basic eDp5',
      ].join('\r\n'),
      body,
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    expect(res.body).not.toContain(reader.key);
  });
});
