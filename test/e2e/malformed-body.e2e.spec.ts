import { HttpAdapterHost } from '@nestjs/core';
import { generateKey, MalformedRequestFilter } from 'nestjs-keybridge';
import request from 'supertest';
import { ADAPTERS, sqlite } from './support/databases.js';
import { expectOAuthError, TOKEN_PATH, REVOKE_PATH } from './support/oauth.js';
import { createApp, listen } from './support/app-starter.js';

/** A key that fails to parse as JSON in different ways: cut short, or bare. */
const key = generateKey('kb_live_');
const MALFORMED_BODIES: [string, string][] = [
  ['cut short', `{"client_secret":"${key}`],
  ['bare', key],
  ['unquoted', `{"client_secret":${key}}`],
];

/**
 * Express's body-parser quotes a malformed JSON body in its error (`Unexpected token 'k', "kb_live_…" is not
 * valid JSON`), and Nest passes the message on. Neither the library's endpoints nor an app using
 * `MalformedRequestFilter` may echo it; Fastify's own answer quotes nothing.
 */
describe.each(ADAPTERS)('a request that cannot be read (%s)', (adapter) => {
  let url: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const { app } = await createApp(adapter, await sqlite.fresh());
    app.useGlobalFilters(new MalformedRequestFilter(app.get(HttpAdapterHost).httpAdapter));
    ({ url } = await listen(app));
    close = () => app.close();
  });

  afterAll(() => close());

  const postJson = (path: string, body: string) =>
    request(url).post(path).set('Content-Type', 'application/json').send(body);

  function expectNoEcho(res: { text: string; headers: Record<string, string> }): void {
    const everything = `${JSON.stringify(res.headers)}\n${res.text}`;
    expect(everything).not.toContain('kb_live_');
    expect(everything).not.toContain('client_secret');
  }

  it.each(MALFORMED_BODIES)(
    'answers the OAuth endpoints without quoting the body (%s)',
    async (_label, body) => {
      for (const path of [TOKEN_PATH, REVOKE_PATH]) {
        const res = await postJson(path, body);
        expect(res.status).toBe(400);
        expectNoEcho(res);
        if (adapter === 'express') expectOAuthError(res, 400, 'invalid_request', [key]);
      }
    },
  );

  it.each(MALFORMED_BODIES)(
    "answers the app's routes without quoting the body (%s)",
    async (_label, body) => {
      const res = await postJson('/orders', body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, message: expect.any(String) });
      expectNoEcho(res);
    },
  );

  // On Fastify the router answers an undecodable URL before any Nest filter runs: the fixture app passes
  // `frameworkErrors: rejectUnreadableUrl`, as the README says to.
  it('answers an undecodable path parameter without quoting it', async () => {
    const res = await request(url).post(`/keys/${key.slice(0, 20)}%FF/revoke`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectNoEcho(res);
  });
});
