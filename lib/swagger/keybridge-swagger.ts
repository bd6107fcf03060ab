import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { OpenAPIObject, SwaggerDocumentOptions } from '@nestjs/swagger';
import { ApiKeyModule } from '../api-key.module.js';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { InvalidOptionsError } from '../errors/index.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ScopeCatalog } from '../scopes/scope.catalog.js';
import { annotateDocument } from './document.annotator.js';
import { OperationMarkers } from './operation.markers.js';
import { inventoryRoutes } from './route.inventory.js';
import {
  DEFAULT_SECURITY_SCHEME_NAMES,
  KeybridgeSecurity,
  type KeybridgeSecuritySchemeNames,
} from './security.schemes.js';

/**
 * @nestjs/swagger's document options, plus the names of the library's security schemes.
 *
 * @publicApi
 */
export interface KeybridgeDocumentOptions extends SwaggerDocumentOptions {
  /** Rename the schemes, e.g. when the app already has one called `bearer`. */
  securitySchemeNames?: Partial<KeybridgeSecuritySchemeNames>;
}

/**
 * The app's OpenAPI document with the library's security in it. A drop-in for
 * `SwaggerModule.createDocument(app, config, options)`:
 *
 * ```ts
 * const document = await KeybridgeSwagger.createDocument(app, new DocumentBuilder().setTitle('Orders').build());
 * SwaggerModule.setup('docs', app, document);
 * ```
 *
 * @publicApi
 */
export class KeybridgeSwagger {
  /**
   * Generates the document with @nestjs/swagger, then adds the API key, bearer and OAuth 2.0
   * client-credentials schemes, the security requirement (with its scopes) of every route a key guard
   * protects, and the library's OAuth endpoints as they really answer. Asynchronous because
   * @nestjs/swagger is an optional peer dependency, loaded only here.
   */
  static async createDocument(
    app: INestApplication,
    config: Omit<OpenAPIObject, 'paths'>,
    options: KeybridgeDocumentOptions = {},
  ): Promise<OpenAPIObject> {
    const { securitySchemeNames, ...documentOptions } = options;
    const names = schemeNames(securitySchemeNames);
    const swagger = await loadSwagger();
    const resolved = resolvedOptions(app);
    const markers = new OperationMarkers(swagger.DECORATORS);
    markers.mark(inventoryRoutes(app, resolved.routes));
    let document: OpenAPIObject;
    try {
      document = swagger.SwaggerModule.createDocument(app, config, documentOptions);
    } finally {
      markers.restore();
    }
    const scopes = app.get(ScopeCatalog, { strict: false }).all();
    return annotateDocument(document, markers, new KeybridgeSecurity(resolved, names), scopes);
  }
}

async function loadSwagger(): Promise<typeof import('@nestjs/swagger')> {
  try {
    return await import('@nestjs/swagger');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new InvalidOptionsError([
      'KeybridgeSwagger.createDocument() needs @nestjs/swagger: run `npm install @nestjs/swagger`.',
    ]);
  }
}

/** Looked for before asking for it: with Nest's default `abortOnError`, a failed `app.get()` ends the process. */
function resolvedOptions(app: INestApplication): ResolvedApiKeyOptions {
  const modules = app.get(ModulesContainer);
  if (![...modules.values()].some((module) => module.metatype === ApiKeyModule)) {
    throw new InvalidOptionsError([
      'KeybridgeSwagger.createDocument() found no ApiKeyModule in this app: import ApiKeyModule.forRoot() into the module the app was created from.',
    ]);
  }
  return app.get<ResolvedApiKeyOptions>(RESOLVED_OPTIONS, { strict: false });
}

function schemeNames(names: Partial<KeybridgeSecuritySchemeNames> = {}): KeybridgeSecuritySchemeNames {
  const merged = { ...DEFAULT_SECURITY_SCHEME_NAMES, ...names };
  const values = Object.values(merged);
  if (values.some((name) => typeof name !== 'string' || name.trim() === '') || new Set(values).size < 4) {
    throw new InvalidOptionsError([
      `securitySchemeNames must be four different, non-empty names; got ${JSON.stringify(merged)}.`,
    ]);
  }
  return merged;
}
