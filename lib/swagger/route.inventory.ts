import type { INestApplication, Type } from '@nestjs/common';
import { GUARDS_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, Reflector, type ApplicationConfig } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { API_KEY_STRATEGY } from '../api-key.constants.js';
import { ApiKeyModule } from '../api-key.module.js';
import { ApiKeyPassportGuard } from '../auth/api-key-passport.guard.js';
import { ApiKeyGuard } from '../auth/api-key.guard.js';
import { readRouteRequirements } from '../auth/route.requirements.js';
import type { OAuthRoutes } from '../interfaces/api-key-options.interface.js';

/** One of the library's own OAuth endpoints. */
export type OAuthEndpoint = keyof OAuthRoutes;

/** A handler of one controller, and what the OpenAPI document must say of it. */
export interface InventoriedRoute {
  controller: Type<unknown>;
  handler: object;
  /** The library's OAuth endpoint served by this handler, documented from its own description. */
  oauth?: OAuthEndpoint;
  /** The scopes a key guard asks of the caller; undefined when no key guard runs or the route is `@Public()`. */
  scopes?: readonly string[];
  /** Guarded by Passport's plain `AuthGuard('api-key')`: the key header only, no bearer, no scopes. */
  keyOnly?: boolean;
}

const KEY_GUARDS: readonly (abstract new (...args: never[]) => object)[] = [ApiKeyGuard, ApiKeyPassportGuard];

/** `AuthGuard('api-key')` is memoized: every call names this one class. */
const PLAIN_PASSPORT_GUARD: readonly (abstract new (...args: never[]) => object)[] = [
  AuthGuard(API_KEY_STRATEGY) as abstract new (...args: never[]) => object,
];

/** A guard class or instance that is one of `types` or a subclass of one. */
function isGuardOf(types: typeof KEY_GUARDS, guard: unknown): boolean {
  if (typeof guard === 'function') {
    return types.some((type) => guard === type || guard.prototype instanceof type);
  }
  return types.some((type) => guard instanceof type);
}

const isKeyGuard = (guard: unknown) => isGuardOf(KEY_GUARDS, guard);
const isPlainPassportGuard = (guard: unknown) => isGuardOf(PLAIN_PASSPORT_GUARD, guard);

/**
 * The app's global guards: `useGlobalGuards()` and `APP_GUARD` providers (the `globalGuard` option is one).
 * Nest keeps them on the application's config, the same object @nestjs/swagger reads the routes from.
 */
function globalGuards(app: INestApplication): unknown[] {
  const config = (app as unknown as { config?: ApplicationConfig }).config;
  if (!config) return [];
  return [...config.getGlobalGuards(), ...config.getGlobalRequestGuards().map((wrapper) => wrapper.metatype)];
}

/**
 * Every routed handler of every controller, read the way the guards read them: a route is guarded when a
 * key guard runs for it (globally or through `@UseGuards()` on its class or handler) and it is not
 * `@Public()`; its scopes are those of `@Scopes()` on class and handler.
 */
export function inventoryRoutes(app: INestApplication, routes: OAuthRoutes): InventoriedRoute[] {
  const reflector = app.get(Reflector);
  const scanner = app.get(MetadataScanner, { strict: false });
  const guardedEverywhere = globalGuards(app).some(isKeyGuard);
  const oauthPaths = new Map(Object.entries(routes).map(([name, path]) => [path, name as OAuthEndpoint]));
  const inventory: InventoriedRoute[] = [];
  for (const wrapper of app.get(DiscoveryService, { strict: false }).getControllers()) {
    const controller = wrapper.metatype as Type<unknown> | undefined;
    if (!controller?.prototype) continue;
    const ownedByLibrary = wrapper.host?.metatype === ApiKeyModule;
    const classGuarded = guardedEverywhere || guardsOf(controller).some(isKeyGuard);
    const prototype = controller.prototype as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name];
      if (typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined)
        continue;
      if (ownedByLibrary) {
        const oauth = oauthPaths.get(Reflect.getMetadata(PATH_METADATA, handler) as string);
        inventory.push({ controller, handler, oauth });
        continue;
      }
      const guarded = classGuarded || guardsOf(handler).some(isKeyGuard);
      const requirements = readRouteRequirements(reflector, controller, handler);
      if (guarded && !requirements.isPublic)
        inventory.push({ controller, handler, scopes: requirements.scopes });
      else if ([...guardsOf(controller), ...guardsOf(handler)].some(isPlainPassportGuard))
        inventory.push({ controller, handler, scopes: [], keyOnly: true });
      else inventory.push({ controller, handler });
    }
  }
  return inventory;
}

function guardsOf(target: object): unknown[] {
  return (Reflect.getMetadata(GUARDS_METADATA, target) as unknown[] | undefined) ?? [];
}
