import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Reflector } from '@nestjs/core';
import { readRouteRequirements } from '../../../lib/auth/route.requirements.js';
import { McpEndpoint } from '../../../lib/mcp/mcp-endpoint.decorator.js';
import { McpToolScopes } from '../../../lib/mcp/mcp-tool.scopes.js';
import { Scopes } from '../../../lib/scopes/scopes.decorator.js';

const tools = new McpToolScopes({ create_order: ['orders:write'] });

describe('@McpEndpoint()', () => {
  it('gives the route its resource path and the scopes a body asks for, on top of its own', () => {
    @McpEndpoint({ resource: '/mcp', tools })
    @Scopes('mcp:use')
    class Endpoint {
      serve(): void {}
    }
    const route = readRouteRequirements(new Reflector(), Endpoint, Endpoint.prototype.serve);
    expect(route).toMatchObject({ isPublic: false, scopes: ['mcp:use'], resource: '/mcp' });
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'create_order' } };
    expect(route.scopesOfBody!(body)).toEqual(['orders:write']);
  });

  it.each([
    'mcp',
    '',
    '/',
    '/mcp/',
    '//mcp',
    '/a/../mcp',
    '/a/./mcp',
    '/a/%2E%2E/mcp',
    '/mcp?x=1',
    '/mcp#x',
    '/a/b/c/d/mcp',
  ])('refuses the resource %j', (resource) => {
    expect(() => McpEndpoint({ resource, tools })).toThrow('is not a path like "/mcp"');
  });
});
