import type { OperationObject } from '@nestjs/swagger';
import type { InventoriedRoute } from './route.inventory.js';

/** The metadata keys @nestjs/swagger reads security requirements and operation extensions from. */
export interface SwaggerMetadataKeys {
  API_SECURITY: string;
  API_EXTENSION: string;
}

const CONTROLLER_MARK = 'x-keybridge-controller-';
const HANDLER_MARK = 'x-keybridge-handler';

/**
 * Ties each operation of a generated document to the controller and handler it came from. @nestjs/swagger
 * names operations by path and method only, and an inherited handler is one function shared by several
 * controllers, so each handler gets an extension and each controller a security requirement of its own for
 * the time the document is generated; both are taken off the metadata right after, and off each operation
 * when it is read.
 */
export class OperationMarkers {
  private readonly undo: (() => void)[] = [];
  private readonly byMark = new Map<string, InventoriedRoute>();

  constructor(private readonly keys: SwaggerMetadataKeys) {}

  /** Marks the routes' classes and handlers; call `restore()` in a `finally` right after generating. */
  mark(routes: readonly InventoriedRoute[]): void {
    const controllers = new Map<object, number>();
    const handlers = new Map<object, number>();
    for (const route of routes) {
      let controller = controllers.get(route.controller);
      if (controller === undefined) {
        controller = controllers.size;
        controllers.set(route.controller, controller);
        const inherited = (Reflect.getMetadata(this.keys.API_SECURITY, route.controller) as unknown[]) ?? [];
        this.define(this.keys.API_SECURITY, route.controller, [
          ...inherited,
          { [`${CONTROLLER_MARK}${controller}`]: [] },
        ]);
      }
      let handler = handlers.get(route.handler);
      if (handler === undefined) {
        handler = handlers.size;
        handlers.set(route.handler, handler);
        const extensions = (Reflect.getMetadata(this.keys.API_EXTENSION, route.handler) as object) ?? {};
        this.define(this.keys.API_EXTENSION, route.handler, { ...extensions, [HANDLER_MARK]: handler });
      }
      this.byMark.set(`${controller}:${handler}`, route);
    }
  }

  restore(): void {
    for (const step of this.undo.splice(0).reverse()) step();
  }

  /** The route an operation documents, with both marks removed from the operation. */
  take(operation: OperationObject): InventoriedRoute | undefined {
    const record = operation as unknown as Record<string, unknown>;
    const handler = record[HANDLER_MARK];
    delete record[HANDLER_MARK];
    let controller: string | undefined;
    const security = operation.security?.filter((requirement) => {
      const mark = Object.keys(requirement).find((name) => name.startsWith(CONTROLLER_MARK));
      if (mark !== undefined) controller = mark.slice(CONTROLLER_MARK.length);
      return mark === undefined;
    });
    if (security?.length) operation.security = security;
    else delete operation.security;
    if (handler === undefined || controller === undefined) return undefined;
    return this.byMark.get(`${controller}:${String(handler)}`);
  }

  private define(key: string, target: object, value: unknown): void {
    const had = Reflect.hasOwnMetadata(key, target);
    const previous: unknown = Reflect.getOwnMetadata(key, target);
    Reflect.defineMetadata(key, value, target);
    this.undo.push(() =>
      had ? Reflect.defineMetadata(key, previous, target) : Reflect.deleteMetadata(key, target),
    );
  }
}
