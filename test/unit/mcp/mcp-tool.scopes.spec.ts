import { describe, expect, it } from '@jest/globals';
import { McpToolScopes } from '../../../lib/mcp/mcp-tool.scopes.js';

const tools = new McpToolScopes({ list_orders: ['orders:read'], create_order: ['orders:write'], ping: [] });

function call(name: unknown): Record<string, unknown> {
  return { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } };
}

describe('McpToolScopes', () => {
  it('reads the scopes a tools/call asks for, and adds up a batch', () => {
    expect(tools.scopesOfBody(call('create_order'))).toEqual(['orders:write']);
    expect(tools.scopesOfBody([call('list_orders'), call('create_order'), call('list_orders')])).toEqual([
      'orders:read',
      'orders:write',
    ]);
  });

  it.each([
    ['another method', { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
    ['an undeclared tool', call('drop_tables')],
    ['a tool name that is not a string', call({ toString: 'create_order' })],
    ['no params', { jsonrpc: '2.0', id: 1, method: 'tools/call' }],
    ['a body that is not JSON-RPC', 'tools/call'],
    ['no body', undefined],
  ])('asks for no scope for %s', (_what, body) => {
    expect(tools.scopesOfBody(body)).toEqual([]);
  });

  it('lists every scope a tool requires', () => {
    expect(tools.all()).toEqual(['orders:read', 'orders:write']);
  });

  it('runs a guarded tool only for a caller holding its scopes, wildcards included', async () => {
    const guarded = tools.guard(
      'create_order',
      (args: { item: string }, _extra: unknown) => `placed ${args.item}`,
    );
    expect(
      guarded({ item: 'widget' }, { authInfo: { token: 't', clientId: 'k', scopes: ['orders:*'] } }),
    ).toBe('placed widget');
    expect(() =>
      guarded({ item: 'widget' }, { authInfo: { token: 't', clientId: 'k', scopes: ['orders:read'] } }),
    ).toThrow('insufficient_scope: the tool create_order needs orders:write.');
    expect(() => guarded({ item: 'widget' }, {})).toThrow('insufficient_scope');
  });

  it('runs a tool declared with no scope for any authenticated caller, and never without one', () => {
    const ping = tools.guard('ping', (_extra: unknown) => 'pong');
    expect(ping({ authInfo: { token: 't', clientId: 'k', scopes: [] } })).toBe('pong');
    expect(() => ping({})).toThrow('insufficient_scope');
  });

  it('refuses to guard a tool that was not declared, and a malformed scope', () => {
    expect(() => tools.guard('drop_tables', () => 'x')).toThrow('was not declared');
    expect(() => new McpToolScopes({ everything: ['orders:*'] })).toThrow('is not a scope');
    expect(() => new McpToolScopes({ spaced: ['orders read'] })).toThrow('is not a scope');
  });
});
