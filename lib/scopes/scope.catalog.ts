import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { INTROSPECTION_SCOPE, REQUEST_SCOPES_METADATA, SCOPES_METADATA } from '../api-key.constants.js';

/** Every scope named by a `@Scopes()` or an `@McpEndpoint()`'s tools in the app, for `scopes_supported` in the server metadata. */
@Injectable()
export class ScopeCatalog {
  private scopes: string[] | undefined;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /** Read once, on first use, once every controller is registered. */
  all(): readonly string[] {
    if (!this.scopes) {
      const found = new Set<string>([INTROSPECTION_SCOPE]);
      for (const wrapper of this.discovery.getControllers()) {
        const type = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
        if (!type?.prototype) continue;
        const add = (target: object) => {
          const scopes = Reflect.getMetadata(SCOPES_METADATA, target) as readonly string[] | undefined;
          for (const scope of scopes ?? []) found.add(scope);
        };
        add(type);
        const tools = Reflect.getMetadata(REQUEST_SCOPES_METADATA, type) as { all(): string[] } | undefined;
        for (const scope of tools?.all() ?? []) found.add(scope);
        const prototype = type.prototype as Record<string, unknown>;
        for (const name of this.scanner.getAllMethodNames(prototype)) {
          const method = prototype[name];
          if (typeof method === 'function') add(method);
        }
      }
      this.scopes = [...found].sort();
    }
    return this.scopes;
  }
}
