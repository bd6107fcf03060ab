import request from 'supertest';
import { GraphqlAppModule } from './apps/graphql.module.js';
import { startApp, type RunningApp } from './support/app-starter.js';
import { ADAPTERS, databaseTargets } from './support/databases.js';
import { mintToken } from './support/oauth.js';

interface GraphqlAnswer {
  status: number;
  text: string;
  body: {
    data?: Record<string, string> | null;
    errors?: { message: string; extensions?: { code?: string; originalError?: Record<string, unknown> } }[];
  };
}

/** `@CurrentPrincipal()` in GraphQL resolvers guarded by `ApiKeyGuard`, over Apollo and real HTTP. */
describe.each(databaseTargets().flatMap((db) => ADAPTERS.map((adapter) => [db.name, adapter, db] as const)))(
  'GraphQL resolvers (%s, %s)',
  (_name, adapter, db) => {
    let running: RunningApp;

    beforeAll(async () => {
      running = await startApp(adapter, await db.fresh(), {}, { app: GraphqlAppModule.forRoot });
    });

    afterAll(async () => {
      await running?.close();
    });

    const query = (body: string, headers: Record<string, string> = {}): Promise<GraphqlAnswer> =>
      request(running.url)
        .post('/graphql')
        .set({ 'Content-Type': 'application/json', ...headers })
        .send({ query: `{ ${body} }` })
        .then((res) => res as unknown as GraphqlAnswer);

    /** The refusal's own code, as the guard threw it, carried by the GraphQL error. */
    const refusalOf = (answer: GraphqlAnswer) => {
      expect(answer.body.data ?? null).toBeNull();
      expect(answer.body.errors).toHaveLength(1);
      return answer.body.errors![0].extensions?.originalError as { statusCode: number; code: string };
    };

    it('hands the key principal to the resolver through @CurrentPrincipal()', async () => {
      const key = await running.keys.create({ name: 'reader', scopes: ['things:read'] });
      const answer = await query('whoami credential', { 'X-API-Key': key.key });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ data: { whoami: key.id, credential: 'api_key' } });
    });

    it('hands a bearer token principal to the resolver', async () => {
      const key = await running.keys.create({ name: 'token reader', scopes: ['things:read'] });
      const token = await mintToken(running.url, { id: key.id, key: key.key });
      const answer = await query('whoami credential', { Authorization: `Bearer ${token}` });
      expect(answer.body).toEqual({ data: { whoami: key.id, credential: 'access_token' } });
    });

    it('refuses an operation without a credential with the 401 code, and no key or stack in the answer', async () => {
      const answer = await query('whoami');
      expect(refusalOf(answer)).toMatchObject({ statusCode: 401, code: 'missing_credentials' });
      expect(answer.text).not.toMatch(/\bat .*\.(js|ts):\d+/);
    });

    it('refuses an unknown key with the 401 code', async () => {
      const key = await running.keys.create({ name: 'soon gone', scopes: ['things:read'] });
      await running.keys.revoke(key.id);
      const answer = await query('whoami', { 'X-API-Key': key.key });
      expect(refusalOf(answer)).toMatchObject({ statusCode: 401 });
      expect(answer.text).not.toContain(key.key);
    });

    it('refuses a key without the scope with the 403 code, for a key and for a token', async () => {
      const key = await running.keys.create({ name: 'reader only', scopes: ['things:read'] });
      const byKey = await query('writer', { 'X-API-Key': key.key });
      expect(refusalOf(byKey)).toMatchObject({ statusCode: 403, code: 'insufficient_scope' });
      const token = await mintToken(running.url, { id: key.id, key: key.key });
      const byToken = await query('writer', { Authorization: `Bearer ${token}` });
      expect(refusalOf(byToken)).toMatchObject({ statusCode: 403, code: 'insufficient_scope' });
    });

    it('leaves a @Public() resolver open, with no principal', async () => {
      expect((await query('ping')).body).toEqual({ data: { ping: 'anonymous' } });
    });
  },
);
