import { All, Controller, Module, Req, Res, UseGuards, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import {
  ApiKeyGuard,
  ApiKeyModule,
  McpEndpoint,
  McpToolScopes,
  Scopes,
  serveMcp,
  type ApiKeyModuleExtras,
  type ApiKeyModuleOptions,
} from 'nestjs-keybridge';
import { fixtureDatabase } from './database.options.js';
import { OrderBook } from './orders.controller.js';

/** Each tool's scopes, declared where the guard reads them before a call is dispatched. */
export const ORDER_TOOLS = new McpToolScopes({
  list_orders: ['orders:read'],
  create_order: ['orders:write'],
});

/** An MCP server made of the public exports and the SDK, served statelessly on `/mcp`. */
@Controller('mcp')
@UseGuards(ApiKeyGuard)
@McpEndpoint({ resource: '/mcp', tools: ORDER_TOOLS })
@Scopes()
export class McpController {
  constructor(private readonly orders: OrderBook) {}

  @All()
  async serve(@Req() request: never, @Res() response: never): Promise<void> {
    await serveMcp(() => this.server(), request, response);
  }

  private server(): McpServer {
    const server = new McpServer({ name: 'orders', version: '1.0.0' });
    server.registerTool(
      'list_orders',
      { description: 'The orders the caller placed.' },
      ORDER_TOOLS.guard('list_orders', (extra) => ({
        content: [{ type: 'text', text: JSON.stringify(this.orders.list(extra.authInfo!.clientId)) }],
      })),
    );
    server.registerTool(
      'create_order',
      {
        description: 'Places an order.',
        inputSchema: { item: z.string().min(1), quantity: z.number().int().positive() },
      },
      ORDER_TOOLS.guard('create_order', ({ item, quantity }, extra) => ({
        content: [
          { type: 'text', text: JSON.stringify(this.orders.place(item, quantity, extra.authInfo!.clientId)) },
        ],
      })),
    );
    return server;
  }
}

@Module({})
export class McpAppModule {
  static forRoot(
    databaseUrl: string,
    keybridge: ApiKeyModuleOptions & Pick<ApiKeyModuleExtras, 'oauth'>,
  ): DynamicModule {
    return {
      module: McpAppModule,
      imports: [TypeOrmModule.forRoot(fixtureDatabase(databaseUrl)), ApiKeyModule.forRoot(keybridge)],
      controllers: [McpController],
      providers: [OrderBook],
    };
  }
}
