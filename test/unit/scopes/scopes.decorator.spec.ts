import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { SCOPES_METADATA } from '../../../lib/api-key.constants.js';
import { Scopes } from '../../../lib/scopes/scopes.decorator.js';

describe('@Scopes()', () => {
  it.each([
    ['a scope with a space', 'a b'],
    ['a wildcard (a route requires concrete scopes)', 'orders:*'],
    ['an empty scope', ''],
    ['a bare *', '*'],
  ])('throws a TypeError at declaration for %s', (_label, scope) => {
    expect(() => Scopes(scope)).toThrow(TypeError);
  });

  it('names the offending scope in the error', () => {
    expect(() => Scopes('orders:read', 'a b')).toThrow(/"a b"/);
  });

  it('records the required scopes on the handler and the class', () => {
    @Scopes('orders:read')
    class OrdersController {
      @Scopes('orders:write', 'orders:refunds:write')
      create(): void {}
    }
    expect(Reflect.getMetadata(SCOPES_METADATA, OrdersController)).toEqual(['orders:read']);
    expect(Reflect.getMetadata(SCOPES_METADATA, OrdersController.prototype.create)).toEqual([
      'orders:write',
      'orders:refunds:write',
    ]);
  });

  it('keeps its own copy of the list', () => {
    const scopes = ['orders:read'];
    class Controller {
      list(): void {}
    }
    const descriptor = Object.getOwnPropertyDescriptor(Controller.prototype, 'list')!;
    Scopes(...scopes)(Controller.prototype, 'list', descriptor);
    scopes.push('orders:write');
    expect(Reflect.getMetadata(SCOPES_METADATA, Controller.prototype.list)).toEqual(['orders:read']);
  });
});
