import type { OpenAPIObject, OperationObject, PathItemObject } from '@nestjs/swagger';
import { GUARD_ERROR_BODY, GUARD_ERROR_SCHEMA, GUARD_RESPONSES } from './guard.responses.js';
import { OAUTH_SCHEMAS } from './oauth.schemas.js';
import { oauthOperation } from './oauth.operations.js';
import type { OperationMarkers } from './operation.markers.js';
import type { KeybridgeSecurity } from './security.schemes.js';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * Writes the library's security into a generated document: each guarded operation gets the key, bearer or
 * OAuth requirement with its scopes, each OAuth endpoint its own description, and the components their
 * schemes and schemas. What the app declared itself is kept.
 */
export function annotateDocument(
  document: OpenAPIObject,
  markers: OperationMarkers,
  security: KeybridgeSecurity,
  catalogScopes: readonly string[],
): OpenAPIObject {
  const scopeUse = new Map<string, string[]>(catalogScopes.map((scope) => [scope, []]));
  let documentsOAuth = false;
  let documentsGuards = false;
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    const operations = item as PathItemObject & Record<string, OperationObject | undefined>;
    for (const method of HTTP_METHODS) {
      const operation = operations[method];
      if (!operation) continue;
      const route = markers.take(operation);
      if (!route) continue;
      if (route.oauth) {
        operations[method] = { ...oauthOperation(route.oauth, security), operationId: operation.operationId };
        documentsOAuth = true;
      } else if (route.scopes) {
        const requirement = route.keyOnly ? security.keyOnly() : security.route(route.scopes);
        operation.security = [...(operation.security ?? []), ...requirement];
        if (!route.keyOnly) {
          // The app's own description of a status wins over the guard's.
          operation.responses = { ...GUARD_RESPONSES, ...operation.responses };
          documentsGuards = true;
        }
        for (const scope of route.scopes) {
          const uses = scopeUse.get(scope) ?? [];
          uses.push(`${method.toUpperCase()} ${path}`);
          scopeUse.set(scope, uses);
        }
      } else if (document.security?.length && !operation.security) {
        // A public route stays public even when the document requires something of every operation.
        operation.security = [];
      }
    }
  }
  document.components = {
    ...document.components,
    securitySchemes: { ...document.components?.securitySchemes, ...security.schemes(scopeUse) },
    schemas: {
      ...document.components?.schemas,
      ...(documentsGuards ? { [GUARD_ERROR_SCHEMA]: GUARD_ERROR_BODY } : {}),
      ...(documentsOAuth ? OAUTH_SCHEMAS : {}),
    },
  };
  return document;
}
