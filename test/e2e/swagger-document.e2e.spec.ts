import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject, type OperationObject } from '@nestjs/swagger';
import request from 'supertest';
import { InvalidOptionsError, KeybridgeSwagger } from 'nestjs-keybridge';
import { ADAPTERS } from './support/databases.js';
import { basic, form } from './support/oauth.js';
import { SWAGGER_APP_HEADER, startSwaggerApp, type RunningSwaggerApp } from './support/swagger-app.js';

const KEY_BEARER_OR_OAUTH = (scopes: string[]) => [{ apiKey: [] }, { bearer: [] }, { oauth2: scopes }];

function operation(document: OpenAPIObject, path: string, method: string): OperationObject {
  const found = (document.paths[path] as Record<string, OperationObject> | undefined)?.[method];
  if (!found) throw new Error(`${method.toUpperCase()} ${path} is not in the document`);
  return found;
}

/** The JSON schema of one response of an operation. */
function responseSchema(operation: OperationObject, status: string): unknown {
  return (operation.responses[status] as { content: Record<string, { schema: unknown }> }).content[
    'application/json'
  ].schema;
}

/** A schema of `components.schemas`, followed from a `$ref`. */
function resolve(document: OpenAPIObject, schema: unknown): { required?: string[]; properties: object } {
  const ref = (schema as { $ref: string }).$ref;
  return document.components!.schemas![ref.split('/').pop()!] as { required?: string[]; properties: object };
}

describe.each(ADAPTERS)('OpenAPI document (%s)', (adapter) => {
  describe('with the global guard', () => {
    let running: RunningSwaggerApp;
    let served: OpenAPIObject;

    beforeAll(async () => {
      running = await startSwaggerApp(adapter, true);
      served = (await request(running.url).get('/docs-json').expect(200)).body as OpenAPIObject;
    });
    afterAll(() => running.close());

    it('serves the document KeybridgeSwagger built, with no trace of how routes were matched', () => {
      expect(served).toEqual(JSON.parse(JSON.stringify(running.document)));
      expect(JSON.stringify(served)).not.toMatch(/x-keybridge/);
    });

    it('declares the key header, bearer tokens and the client-credentials flow', () => {
      const schemes = served.components!.securitySchemes!;
      expect(schemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: SWAGGER_APP_HEADER });
      expect(schemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
      expect(schemes.clientSecretBasic).toMatchObject({ type: 'http', scheme: 'basic' });
      const flow = (schemes.oauth2 as { flows: { clientCredentials: { tokenUrl: string; scopes: object } } })
        .flows.clientCredentials;
      expect(flow.tokenUrl).toBe(`${running.issuer}/oauth/token`);
      expect(Object.keys(flow.scopes).sort()).toEqual([
        'admin:read',
        'catalog:read',
        'catalog:write',
        'things:read',
        'tokens:introspect',
      ]);
      expect((flow.scopes as Record<string, string>)['catalog:write']).toBe('Needed by POST /catalog.');
    });

    it('offers the scopes the server metadata announces', async () => {
      const metadata = await request(running.url).get('/.well-known/oauth-authorization-server').expect(200);
      const flow = (served.components!.securitySchemes!.oauth2 as { flows: { clientCredentials: object } })
        .flows.clientCredentials as { scopes: object };
      expect(Object.keys(flow.scopes).sort()).toEqual([...metadata.body.scopes_supported].sort());
    });

    it('gives each guarded operation its requirement with the scopes of class and handler', () => {
      expect(operation(served, '/catalog', 'get').security).toEqual(KEY_BEARER_OR_OAUTH(['catalog:read']));
      expect(operation(served, '/catalog', 'post').security).toEqual(
        KEY_BEARER_OR_OAUTH(['catalog:read', 'catalog:write']),
      );
      expect(operation(served, '/status/private', 'get').security).toEqual(
        KEY_BEARER_OR_OAUTH(['things:read']),
      );
    });

    it('reads an inherited handler per controller, as the guard does', () => {
      expect(operation(served, '/admin/users', 'get').security).toEqual(KEY_BEARER_OR_OAUTH(['admin:read']));
      expect(operation(served, '/status', 'get').security).toBeUndefined();
    });

    it('documents the refusals of the guard with the body it really sends', async () => {
      const list = operation(served, '/catalog', 'get');
      expect(Object.keys(list.responses)).toEqual(
        expect.arrayContaining(['200', '400', '401', '403', '429', '503']),
      );
      const schema = resolve(served, responseSchema(list, '401'));
      const refused = await request(running.url).get('/catalog').expect(401);
      expect(Object.keys(refused.body).sort()).toEqual([...schema.required!].sort());
      expect(operation(served, '/catalog/featured', 'get').responses['401']).toBeUndefined();
    });

    it('leaves public operations without a requirement', () => {
      expect(operation(served, '/catalog/featured', 'get').security).toBeUndefined();
    });

    it('documents the token endpoint as a form post answering 200 or an RFC 6749 error', () => {
      const token = operation(served, '/oauth/token', 'post');
      const content = (token.requestBody as { content: Record<string, { schema: unknown }> }).content;
      expect(Object.keys(content)[0]).toBe('application/x-www-form-urlencoded');
      const body = resolve(served, content['application/x-www-form-urlencoded'].schema);
      expect(body.required).toEqual(['grant_type']);
      expect(Object.keys(body.properties)).toEqual(
        expect.arrayContaining(['grant_type', 'scope', 'client_id', 'client_secret', 'subject_token']),
      );
      expect(Object.keys(token.responses).sort()).toEqual(['200', '400', '401', '429', '503']);
      for (const status of ['400', '401', '429', '503']) {
        const error = resolve(served, responseSchema(token, status));
        expect(Object.keys(error.properties).sort()).toEqual(['error', 'error_description']);
      }
      expect(token.security).toEqual([{ clientSecretBasic: [] }, { apiKey: [] }, {}]);
    });

    it('documents revocation and introspection as form posts answering 200, and the key documents as GETs', () => {
      for (const path of ['/oauth/revoke', '/oauth/introspect']) {
        const post = operation(served, path, 'post');
        expect(Object.keys((post.requestBody as { content: object }).content)[0]).toBe(
          'application/x-www-form-urlencoded',
        );
        expect(Object.keys(post.responses)).not.toContain('201');
        expect(post.responses['200']).toBeDefined();
        expect(post.responses['401']).toBeDefined();
      }
      // Only introspection refuses with 403, a client without tokens:introspect.
      expect(operation(served, '/oauth/introspect', 'post').responses['403']).toBeDefined();
      expect(operation(served, '/oauth/revoke', 'post').responses['403']).toBeUndefined();
      for (const path of [
        '/.well-known/jwks.json',
        '/.well-known/oauth-authorization-server',
        '/.well-known/oauth-protected-resource',
      ]) {
        const get = operation(served, path, 'get');
        expect(Object.keys(get.responses)).toEqual(['200']);
        expect(get.security).toBeUndefined();
      }
    });

    it('documents the authorization endpoint as answering only 400, and no path-suffixed metadata path', () => {
      for (const method of ['get', 'post'] as const) {
        expect(Object.keys(operation(served, '/oauth/authorize', method).responses)).toEqual(['400']);
      }
      // OpenAPI has no "any path below": the metadata operation describes that form in words.
      expect(
        Object.keys(served.paths).filter((path) => path.startsWith('/.well-known/oauth-protected-resource/')),
      ).toEqual([]);
    });

    it('describes what the token endpoint really answers', async () => {
      const { id, key } = await running.keys.create({ name: 'docs', scopes: ['catalog:read'] });
      const token = operation(served, '/oauth/token', 'post');
      const success = resolve(served, responseSchema(token, '200'));
      const issued = await request(running.url)
        .post('/oauth/token')
        .set('Authorization', basic(id, key))
        .type('form')
        .send(form({ grant_type: 'client_credentials' }))
        .expect(200);
      expect(Object.keys(issued.body)).toEqual(expect.arrayContaining(success.required!));
      for (const field of Object.keys(issued.body)) expect(Object.keys(success.properties)).toContain(field);

      const refused = await request(running.url)
        .post('/oauth/token')
        .type('form')
        .send(form({ grant_type: 'password' }))
        .expect(400);
      expect(Object.keys(refused.body).sort()).toEqual(['error', 'error_description']);

      const jwks = await request(running.url).get('/.well-known/jwks.json').expect(200);
      const set = operation(served, '/.well-known/jwks.json', 'get');
      const schema = resolve(served, responseSchema(set, '200'));
      expect(Object.keys(jwks.body)).toEqual(schema.required);
    });
  });

  describe('with guards per route', () => {
    let running: RunningSwaggerApp;

    beforeAll(async () => {
      running = await startSwaggerApp(adapter, false);
    });
    afterAll(() => running.close());

    it('requires what each route guard asks, and nothing of unguarded routes', () => {
      const { document } = running;
      expect(operation(document, '/guarded', 'get').security).toEqual(KEY_BEARER_OR_OAUTH(['things:read']));
      expect(operation(document, '/passport', 'get').security).toEqual(KEY_BEARER_OR_OAUTH(['things:read']));
      // Passport's plain AuthGuard('api-key') reads the key header and nothing else.
      expect(operation(document, '/plain-passport', 'get').security).toEqual([{ apiKey: [] }]);
      expect(operation(document, '/open', 'get').security).toBeUndefined();
      expect(operation(document, '/catalog', 'get').security).toBeUndefined();
    });

    it('leaves the routes as it found them for the next document', async () => {
      const plain = SwaggerModule.createDocument(running.app, new DocumentBuilder().build());
      expect(JSON.stringify(plain)).not.toMatch(/x-keybridge/);
      expect(operation(plain, '/guarded', 'get').security).toBeUndefined();
      const again = await KeybridgeSwagger.createDocument(running.app, new DocumentBuilder().build(), {
        securitySchemeNames: { apiKey: 'catalogKey' },
      });
      expect(operation(again, '/guarded', 'get').security).toEqual([
        { catalogKey: [] },
        { bearer: [] },
        { oauth2: ['things:read'] },
      ]);
      expect(again.components!.securitySchemes!.catalogKey).toMatchObject({ name: SWAGGER_APP_HEADER });
    });
  });

  describe('without the OAuth endpoints', () => {
    let running: RunningSwaggerApp;

    beforeAll(async () => {
      running = await startSwaggerApp(adapter, true, { oauth: false });
    });
    afterAll(() => running.close());

    it('documents the key header alone', () => {
      const { document } = running;
      expect(Object.keys(document.components!.securitySchemes!)).toEqual(['apiKey']);
      expect(operation(document, '/catalog', 'get').security).toEqual([{ apiKey: [] }]);
      expect(Object.keys(document.paths).filter((path) => path.includes('oauth'))).toEqual([]);
    });
  });
});

describe('KeybridgeSwagger.createDocument() in an app without ApiKeyModule', () => {
  it('says what to import', async () => {
    @Controller()
    class PlainController {
      @Get()
      hello(): string {
        return 'hello';
      }
    }
    @Module({ controllers: [PlainController] })
    class PlainModule {}
    const app = await NestFactory.create(PlainModule, { logger: false });
    try {
      const failure = KeybridgeSwagger.createDocument(app, new DocumentBuilder().build());
      await expect(failure).rejects.toThrow(InvalidOptionsError);
      await expect(failure).rejects.toThrow(/import ApiKeyModule\.forRoot\(\)/);
    } finally {
      await app.close();
    }
  });

  it('refuses scheme names that collide', async () => {
    const running = await startSwaggerApp('express', true);
    try {
      await expect(
        KeybridgeSwagger.createDocument(running.app, new DocumentBuilder().build(), {
          securitySchemeNames: { bearer: 'apiKey' },
        }),
      ).rejects.toThrow(/four different, non-empty names/);
    } finally {
      await running.close();
    }
  });
});
