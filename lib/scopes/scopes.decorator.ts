import { SetMetadata } from '@nestjs/common';
import { SCOPES_METADATA } from '../api-key.constants.js';
import { isValidScope } from './scope.matcher.js';

/**
 * The scopes a route needs; the caller must hold all of them. On a class and a handler, both lists apply.
 * A held scope `orders:*` satisfies any required `orders:` scope.
 *
 * @publicApi
 */
export function Scopes(...scopes: string[]): MethodDecorator & ClassDecorator {
  const invalid = scopes.find((s) => !isValidScope(s) || s.endsWith(':*'));
  if (invalid !== undefined) {
    throw new TypeError(
      `@Scopes(): ${JSON.stringify(invalid)} is not a scope a route can require (like "orders:read").`,
    );
  }
  return SetMetadata(SCOPES_METADATA, Object.freeze([...scopes]));
}
