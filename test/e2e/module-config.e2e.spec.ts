import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { ApiKeyModule, ApiKeyService, KEYBRIDGE_ENTITIES, KEYBRIDGE_MIGRATIONS } from 'nestjs-keybridge';
import { createNestApp, listen, type AdapterName } from './support/app-starter.js';
import { ADAPTERS, sqlite } from './support/databases.js';
import { TEST_PEPPER } from './support/test-secrets.js';
import {
  AdminListingController,
  GlobalController,
  PublicListingController,
  KeybridgeConfig,
  KeybridgeConfigModule,
  PerRouteController,
} from './apps/route-guards.controllers.js';

async function database(name?: string) {
  return TypeOrmModule.forRoot({
    name,
    type: 'better-sqlite3',
    database: await sqlite.fresh(),
    entities: [...KEYBRIDGE_ENTITIES],
    migrations: [...KEYBRIDGE_MIGRATIONS],
    migrationsRun: true,
    retryAttempts: 0,
  });
}

/** An app of `controllers` with `imports`: each test here sets the module up its own way. */
async function boot(
  adapter: AdapterName,
  imports: DynamicModule[],
  controllers: (new (...args: never[]) => unknown)[],
) {
  const app = await createNestApp(adapter, { module: class FixtureModule {}, imports, controllers }, false);
  const { url } = await listen(app);
  return { app, url, keys: app.get(ApiKeyService) };
}

describe.each(ADAPTERS)('module configuration (%s)', (adapter) => {
  describe('forRoot without the global guard, guards per route', () => {
    let app: INestApplication;
    let url: string;
    let key: string;
    let narrow: string;

    beforeAll(async () => {
      ({ app, url } = await boot(
        adapter,
        [await database(), ApiKeyModule.forRoot({ pepper: TEST_PEPPER })],
        [PerRouteController],
      ));
      const keys = app.get(ApiKeyService);
      key = (await keys.create({ name: 'things', scopes: ['things:read'], subject: 'team:alice' })).key;
      narrow = (await keys.create({ name: 'narrow', scopes: ['other:read'] })).key;
    });
    afterAll(() => app.close());

    it('leaves unguarded routes open', async () => {
      await request(url).get('/open').expect(200, { open: true });
    });

    it.each(['/guarded', '/passport'])('%s answers like the error table', async (path) => {
      const missing = await request(url).get(path).expect(401);
      expect(missing.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: expect.any(String),
        code: 'missing_credentials',
      });
      expect(missing.headers['www-authenticate']).toContain('ApiKey');
      const invalid = await request(url)
        .get(path)
        .set('X-API-Key', key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a'))
        .expect(401);
      expect(invalid.body.code).toBe('invalid_api_key');
      const scope = await request(url).get(path).set('X-API-Key', narrow).expect(403);
      expect(scope.body).toEqual({
        statusCode: 403,
        error: 'Forbidden',
        message: 'Missing scopes: things:read.',
        code: 'insufficient_scope',
      });
      const query = await request(url).get(`${path}?api_key=x`).set('X-API-Key', key).expect(400);
      expect(query.body.code).toBe('api_key_in_query');
      await request(url).get(path).set('X-API-Key', key).expect(200, { subject: 'team:alice' });
    });

    it("lets apps compose Passport's AuthGuard('api-key') directly", async () => {
      await request(url).get('/plain-passport').set('X-API-Key', key).expect(200, { subject: 'team:alice' });
      await request(url).get('/plain-passport').expect(401);
    });
  });

  describe.each([
    [
      'useFactory',
      () => ({
        imports: [KeybridgeConfigModule],
        inject: [KeybridgeConfig],
        useFactory: (config: KeybridgeConfig) => config.createApiKeyOptions(),
      }),
    ],
    ['useClass', () => ({ useClass: KeybridgeConfig })],
    ['useExisting', () => ({ imports: [KeybridgeConfigModule], useExisting: KeybridgeConfig })],
  ])('forRootAsync with %s and the global guard', (_mode, asyncOptions) => {
    let app: INestApplication;
    let url: string;
    let key: string;

    beforeAll(async () => {
      ({ app, url } = await boot(
        adapter,
        [await database(), ApiKeyModule.forRootAsync({ ...asyncOptions(), globalGuard: true })],
        [GlobalController],
      ));
      key = (
        await app.get(ApiKeyService).create({ name: 'async', scopes: ['things:read'], subject: 'app:async' })
      ).key;
    });
    afterAll(() => app.close());

    it('guards every route, reads the configured header, and honours @Public()', async () => {
      await request(url).get('/global/public').expect(200);
      const missing = await request(url).get('/global').set('X-API-Key', key).expect(401);
      expect(missing.headers['www-authenticate']).toBe(
        'Bearer realm="api", resource_metadata="http://localhost/.well-known/oauth-protected-resource", scope="things:read", ApiKey realm="api", header="X-Api-Token"',
      );
      await request(url).get('/global').set('X-Api-Token', key).expect(200, { subject: 'app:async' });
    });
  });

  it('keeps the rules of each controller apart when they inherit the same handler', async () => {
    const { app, url, keys } = await boot(
      adapter,
      [await database(), ApiKeyModule.forRoot({ pepper: TEST_PEPPER, globalGuard: true })],
      [PublicListingController, AdminListingController],
    );
    try {
      const admin = await keys.create({ name: 'admin', scopes: ['admin:read'] });
      await request(url).get('/status').expect(200);
      await request(url).get('/admin/users').expect(401);
      await request(url).get('/admin/users').set('X-API-Key', admin.key).expect(200);
      await request(url).get('/status').expect(200);
      // A class-level @Public() does not open a handler that declares scopes of its own.
      await request(url).get('/status/private').expect(401);
      await request(url).get('/status/private').set('X-API-Key', admin.key).expect(403);
    } finally {
      await app.close();
    }
  });

  it('works with a named data source', async () => {
    const { app, url, keys } = await boot(
      adapter,
      [
        await database('keys'),
        ApiKeyModule.forRoot({ pepper: TEST_PEPPER, globalGuard: true, dataSource: 'keys' }),
      ],
      [GlobalController],
    );
    try {
      const { key } = await keys.create({ name: 'named', scopes: ['things:read'], subject: 'named' });
      await request(url).get('/global').set('X-API-Key', key).expect(200, { subject: 'named' });
    } finally {
      await app.close();
    }
  });
});

describe('options validation at boot', () => {
  const previous = process.env.NODE_ENV;
  afterEach(() => {
    process.env.NODE_ENV = previous;
  });

  it('refuses to start in production without a pepper, saying what to set', async () => {
    process.env.NODE_ENV = 'production';
    const imports = [await database(), ApiKeyModule.forRoot({})];
    await expect(
      NestFactory.create({ module: class ProductionApp {}, imports }, { logger: false, abortOnError: false }),
    ).rejects.toThrow(/pepper is required when NODE_ENV=production/);
  });

  it('refuses a short pepper and lists every problem', async () => {
    const imports = [
      await database(),
      ApiKeyModule.forRoot({ pepper: 'short', header: 'bad header', trustedProxies: -1 }),
    ];
    const failure = NestFactory.create(
      { module: class BadApp {}, imports },
      { logger: false, abortOnError: false },
    );
    await expect(failure).rejects.toThrow(/pepper must be a string of at least 32 characters/);
    await expect(failure).rejects.toThrow(/header must be a valid HTTP header name/);
    await expect(failure).rejects.toThrow(/trustedProxies/);
  });
});
