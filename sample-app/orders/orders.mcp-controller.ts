import { All, Controller, Req, Res } from '@nestjs/common';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { McpEndpoint, McpToolScopes, Scopes, serveMcp, type McpAuthInfo } from 'nestjs-keybridge';
import { OrdersService } from './orders.service.js';

/** The tools of the orders MCP server and the scopes each needs, as `/orders` needs them. */
export const ORDER_TOOLS = new McpToolScopes({
  list_orders: ['orders:read'],
  create_order: ['orders:write'],
});

/** Who placed an order: the key's owner, as on `/orders`. */
function ownerOf(authInfo: McpAuthInfo | undefined): string {
  return authInfo!.extra!.subject as string;
}

function json(value: unknown): { content: { type: 'text'; text: string }[] } {
  return { content: [{ type: 'text', text: JSON.stringify(value) }] };
}

/**
 * The orders as an MCP server over Streamable HTTP (stateless: a server per request). The app-wide key
 * guard asks any credential of the route and each called tool's scopes of the body; its protected resource
 * is `<issuer>/mcp`.
 */
@Controller('mcp')
@McpEndpoint({ resource: '/mcp', tools: ORDER_TOOLS })
@Scopes()
export class OrdersMcpController {
  constructor(private readonly orders: OrdersService) {}

  @All()
  async serve(@Req() request: never, @Res() response: never): Promise<void> {
    await serveMcp(() => this.server(), request, response);
  }

  private server(): McpServer {
    const server = new McpServer({ name: 'orders', version: '1.0.0' });
    server.registerTool(
      'list_orders',
      { description: 'The latest 100 orders placed by the caller’s owner.' },
      ORDER_TOOLS.guard('list_orders', async (extra) =>
        json(await this.orders.list(ownerOf(extra.authInfo))),
      ),
    );
    server.registerTool(
      'create_order',
      {
        description: 'Places an order.',
        inputSchema: {
          item: z.string().trim().min(1).max(200),
          quantity: z.number().int().min(1).max(10_000),
        },
      },
      ORDER_TOOLS.guard('create_order', async ({ item, quantity }, extra) =>
        json(await this.orders.place(item, quantity, ownerOf(extra.authInfo))),
      ),
    );
    return server;
  }
}
