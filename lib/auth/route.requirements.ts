import type { Reflector } from '@nestjs/core';
import {
  COST_METADATA,
  PUBLIC_METADATA,
  REQUEST_SCOPES_METADATA,
  RESOURCE_PATH_METADATA,
  SCOPES_METADATA,
} from '../api-key.constants.js';

/** What a route asks of its caller, read once per handler from `@Public()`, `@Scopes()` and `@Cost()`. */
export interface RouteRequirements {
  isPublic: boolean;
  scopes: readonly string[];
  /** Units of rate limit a request spends (`@Cost()`, handler over class); 1 when not declared. */
  cost: number;
  /** The path of the protected resource under the issuer (`/mcp`) its challenges name; none for the API. */
  resource?: string;
  /** The scopes a request's parsed body asks for besides `scopes` (an MCP `tools/call`). */
  scopesOfBody?: (body: unknown) => readonly string[];
}

/**
 * A route's requirements. A handler's own `@Public()` makes it public; a class-level `@Public()` does so only
 * for handlers that declare no `@Scopes()` of their own. Scopes of class and handler add up.
 */
export function readRouteRequirements(
  reflector: Reflector,
  controller: object,
  handler: object,
): RouteRequirements {
  const handlerScopes = reflector.get<readonly string[] | undefined>(SCOPES_METADATA, handler as never) ?? [];
  const classScopes =
    reflector.get<readonly string[] | undefined>(SCOPES_METADATA, controller as never) ?? [];
  const handlerPublic = reflector.get<boolean | undefined>(PUBLIC_METADATA, handler as never) === true;
  const classPublic = reflector.get<boolean | undefined>(PUBLIC_METADATA, controller as never) === true;
  const resource = reflector.get<string | undefined>(RESOURCE_PATH_METADATA, controller as never);
  const bodyScopes = reflector.get<{ scopesOfBody: RouteRequirements['scopesOfBody'] } | undefined>(
    REQUEST_SCOPES_METADATA,
    controller as never,
  );
  const scopesOfBody = bodyScopes?.scopesOfBody;
  const cost =
    reflector.get<number | undefined>(COST_METADATA, handler as never) ??
    reflector.get<number | undefined>(COST_METADATA, controller as never) ??
    1;
  return {
    isPublic: handlerPublic || (classPublic && handlerScopes.length === 0),
    scopes: [...new Set([...classScopes, ...handlerScopes])],
    cost,
    ...(resource === undefined ? {} : { resource }),
    ...(scopesOfBody === undefined ? {} : { scopesOfBody }),
  };
}

/** Requirements per controller class, then per handler: an inherited handler is one function shared by several classes. */
export class RouteRequirementsCache {
  private readonly byRoute = new WeakMap<object, WeakMap<object, RouteRequirements>>();

  constructor(private readonly reflector: Reflector) {}

  get(controller: object, handler: object): RouteRequirements {
    let byHandler = this.byRoute.get(controller);
    if (!byHandler) {
      byHandler = new WeakMap();
      this.byRoute.set(controller, byHandler);
    }
    let requirements = byHandler.get(handler);
    if (!requirements) {
      requirements = readRouteRequirements(this.reflector, controller, handler);
      byHandler.set(handler, requirements);
    }
    return requirements;
  }
}
