import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ApiKeyService, KeybridgeSwagger, type KeybridgeDocumentOptions } from 'nestjs-keybridge';
import { SwaggerAppModule } from '../apps/swagger.module.js';
import { createNestApp, freePort, listen, type AdapterName, type KeybridgeOptions } from './app-starter.js';
import { sqlite } from './databases.js';
import { TEST_PEPPER, TEST_SIGNING_KEY } from './test-secrets.js';

/** The key header of the Swagger fixture app: not the default, so the document must name it. */
export const SWAGGER_APP_HEADER = 'X-Catalog-Key';

export interface RunningSwaggerApp {
  app: INestApplication;
  url: string;
  issuer: string;
  keys: ApiKeyService;
  /** What `KeybridgeSwagger.createDocument()` returned; Swagger UI serves it at `/docs`, JSON at `/docs-json`. */
  document: OpenAPIObject;
  close(): Promise<void>;
}

/** The Swagger fixture app on a real port, its OpenAPI document served by `SwaggerModule.setup('docs')`. */
export async function startSwaggerApp(
  adapter: AdapterName,
  globalGuard: boolean,
  keybridge: KeybridgeOptions = {},
  documentOptions: KeybridgeDocumentOptions = {},
): Promise<RunningSwaggerApp> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const module = SwaggerAppModule.forRoot(
    await sqlite.fresh(),
    {
      pepper: TEST_PEPPER,
      issuer,
      signing: { alg: 'EdDSA', privateKey: TEST_SIGNING_KEY },
      header: SWAGGER_APP_HEADER,
      failedAuthLimit: false,
      ...keybridge,
    },
    { globalGuard },
  );
  const app = await createNestApp(adapter, module);
  const config = new DocumentBuilder().setTitle('Catalog').setVersion('1.0').build();
  const document = await KeybridgeSwagger.createDocument(app, config, documentOptions);
  // On Fastify, Swagger UI's assets come through @fastify/static, whose CommonJS entry requires an ES module
  // that Jest's module loader cannot require: Fastify apps serve the JSON document only here.
  SwaggerModule.setup('docs', app, document, { ui: adapter === 'express' });
  const { url } = await listen(app, port);
  return { app, url, issuer, keys: app.get(ApiKeyService), document, close: () => app.close() };
}
