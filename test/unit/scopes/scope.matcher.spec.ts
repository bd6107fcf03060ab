import { describe, expect, it } from '@jest/globals';
import { GrantedScopes, isValidScope, MAX_SCOPE_LENGTH } from '../../../lib/scopes/scope.matcher.js';

describe('isValidScope', () => {
  it.each(['orders:read', 'orders:*', 'a.b-c_d/e:f', 'orders', 'orders:refunds:write', 'x'.repeat(128)])(
    'accepts %j',
    (scope) => {
      expect(isValidScope(scope)).toBe(true);
    },
  );

  it.each([
    '',
    'a b',
    'orders:read ',
    ' orders:read',
    '*',
    'orders:*:x',
    'orders:',
    ':read',
    'orders::read',
    'orders:re*d',
    'orders,read',
    'commandes:créer',
    'orders:read\n',
    'x'.repeat(129),
  ])('refuses %j', (scope) => {
    expect(isValidScope(scope)).toBe(false);
  });

  it.each([undefined, null, 42, ['orders:read'], { scope: 'orders:read' }])(
    'refuses the non-string %j',
    (value) => {
      expect(isValidScope(value)).toBe(false);
    },
  );

  it('caps scopes at 128 characters', () => {
    expect(MAX_SCOPE_LENGTH).toBe(128);
  });
});

describe('GrantedScopes', () => {
  it('grants exactly the scopes it holds', () => {
    const granted = new GrantedScopes(['orders:read', 'users:write']);
    expect(granted.grants('orders:read')).toBe(true);
    expect(granted.grants('users:write')).toBe(true);
    expect(granted.grants('orders:write')).toBe(false);
    expect(granted.grants('orders')).toBe(false);
    expect(granted.grants('orders:read:all')).toBe(false);
    expect(granted.grants('Orders:read')).toBe(false);
  });

  it('lets orders:* grant every orders: scope, at any depth', () => {
    const granted = new GrantedScopes(['orders:*']);
    expect(granted.grants('orders:read')).toBe(true);
    expect(granted.grants('orders:refunds:write')).toBe(true);
  });

  it('does not let orders:* grant orders itself, nor a scope that merely starts with "orders"', () => {
    const granted = new GrantedScopes(['orders:*']);
    expect(granted.grants('orders')).toBe(false);
    expect(granted.grants('ordersx:read')).toBe(false);
    expect(granted.grants('orders-archive:read')).toBe(false);
    expect(granted.grants('users:read')).toBe(false);
  });

  it('lets a nested wildcard grant only its own subtree', () => {
    const granted = new GrantedScopes(['orders:refunds:*']);
    expect(granted.grants('orders:refunds:write')).toBe(true);
    expect(granted.grants('orders:read')).toBe(false);
    expect(granted.grants('orders:refunds')).toBe(false);
  });

  it('grants nothing when empty', () => {
    const granted = new GrantedScopes([]);
    expect(granted.grants('orders:read')).toBe(false);
    expect(granted.missing(['orders:read'])).toEqual(['orders:read']);
  });

  it('missing() lists the scopes not granted, in the order they were required', () => {
    const granted = new GrantedScopes(['orders:read', 'users:*']);
    expect(granted.missing(['z:last', 'orders:read', 'a:first', 'users:delete', 'm:middle'])).toEqual([
      'z:last',
      'a:first',
      'm:middle',
    ]);
    expect(granted.missing(['orders:read', 'users:read'])).toEqual([]);
    expect(granted.missing([])).toEqual([]);
  });
});
