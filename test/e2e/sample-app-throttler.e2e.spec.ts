import request from 'supertest';
import { freePort } from './support/app-starter.js';
import { ADAPTERS, sqlite } from './support/databases.js';
import { basic, expectOAuthError, form, INTROSPECT_PATH, REVOKE_PATH, TOKEN_PATH } from './support/oauth.js';
import { runKeysCli, SampleAppProcess, withDiagnostics } from './support/sample-app-process.js';
import { TEST_PEPPER, TEST_SIGNING_KEY } from './support/test-secrets.js';

/** Requests per tracker and route in the sample app's throttler window (which outlasts a run of this file). */
const LIMIT = 3;
const withinBudget = Array<number>(LIMIT).fill(200);

interface IssuedKey {
  id: string;
  key: string;
}

/** Statuses of `count` requests made one after another. */
async function statuses(count: number, send: () => PromiseLike<{ status: number }>): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < count; i++) seen.push((await send()).status);
  return seen;
}

/**
 * The built sample app with `@nestjs/throttler` as an app-wide guard registered after the key guard
 * (`THROTTLE_LIMIT`), in a process of its own: the throttler package is CommonJS requiring ESM-only Nest,
 * which Node loads and Jest's module loader does not. It tracks by key id, so two keys from one address each
 * get their own budget; what it refuses on the OAuth endpoints and the JWKS is an RFC 6749 answer.
 */
describe.each(ADAPTERS)('sample app with a per-key throttler (%s)', (adapter) => {
  let app: SampleAppProcess | undefined;
  let env: Record<string, string>;
  const keys: IssuedKey[] = [];

  beforeAll(async () => {
    env = {
      DATABASE_URL: await sqlite.fresh(),
      HTTP_ADAPTER: adapter,
      KEYBRIDGE_PEPPER: TEST_PEPPER,
      KEYBRIDGE_SIGNING_KEY: TEST_SIGNING_KEY,
      THROTTLE_LIMIT: String(LIMIT),
      THROTTLE_WINDOW_MS: '600000',
    };
    app = await SampleAppProcess.start('throttled', await freePort(), env);
    // The third key is an OAuth client that may introspect.
    for (const [name, scopes] of [
      ['first', 'orders:read'],
      ['second', 'orders:read'],
      ['client', 'orders:read,tokens:introspect'],
    ]) {
      const created = await runKeysCli(['create', '--name', name, '--scopes', scopes, '--json'], env);
      if (created.code !== 0) throw new Error(`keys CLI create failed (${created.code}): ${created.stderr}`);
      keys.push(JSON.parse(created.stdout) as IssuedKey);
    }
  }, 180_000);

  afterAll(async () => {
    await app?.stop();
  }, 30_000);

  const orders = (key: string) => request(app!.url).get('/orders').set('X-API-Key', key);

  it('gives each key its own budget when both come from one address', () =>
    withDiagnostics([app], async () => {
      const [first, second] = keys;
      expect(await statuses(LIMIT, () => orders(first.key))).toEqual(withinBudget);
      const refused = await orders(first.key);
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toEqual(expect.any(String));
      // Same address, another key: a budget of its own.
      expect(await statuses(LIMIT, () => orders(second.key))).toEqual(withinBudget);
      expect((await orders(second.key)).status).toBe(429);
    }));

  it('refuses a request without a key with 401 before the throttler counts it', async () => {
    const res = await request(app!.url).get('/orders');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('missing_credentials');
  });

  it('answers a throttled token, revocation or introspection request with an RFC 6749 error and no-store', () =>
    withDiagnostics([app], async () => {
      const client = keys[2];
      for (const path of [TOKEN_PATH, REVOKE_PATH, INTROSPECT_PATH]) {
        const send = () =>
          request(app!.url)
            .post(path)
            .set('Authorization', basic(client.id, client.key))
            .type('form')
            .send(
              form(path === TOKEN_PATH ? { grant_type: 'client_credentials' } : { token: 'not-a-token' }),
            );
        expect(await statuses(LIMIT, send)).toEqual(withinBudget);
        const refused = await send();
        expectOAuthError(refused, 429, 'rate_limited', [client.key]);
        expect(refused.headers['retry-after']).toEqual(expect.any(String));
      }
    }));

  it('answers a throttled JWKS or metadata request with an RFC 6749 error and no-store', () =>
    withDiagnostics([app], async () => {
      for (const path of ['/.well-known/jwks.json', '/.well-known/oauth-authorization-server']) {
        const send = () => request(app!.url).get(path);
        const allowed = await send();
        expect(allowed.status).toBe(200);
        expect(allowed.headers['cache-control']).toBe('public, max-age=300');
        expect(await statuses(LIMIT - 1, send)).toEqual(withinBudget.slice(1));
        expectOAuthError(await send(), 429, 'rate_limited');
      }
    }));

  it('never throttles the health probe', async () => {
    expect(await statuses(LIMIT + 2, () => request(app!.url).get('/health'))).toEqual(
      Array<number>(LIMIT + 2).fill(200),
    );
  });
});
