import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer, HeaderMap, type BaseContext } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';

type ExpressRequest = IncomingMessage & { body?: unknown };
type ExpressResponse = ServerResponse & { send(body: string): void };

/**
 * `ApolloDriver` serving Apollo Server 5 on Express without `@as-integrations/express5` (not a dependency of
 * this project): the same request-to-Apollo translation that package makes, through Apollo's own
 * `executeHTTPGraphQLRequest`. The operations, the guards and the HTTP exchange are the real ones.
 */
export class ApolloExpressDriver extends ApolloDriver {
  protected override async registerExpress(options: ApolloDriverConfig): Promise<void> {
    const httpAdapter = this.httpAdapterHost.httpAdapter;
    const server = new ApolloServer<BaseContext>({
      ...(options as object),
      typeDefs: options.typeDefs,
      resolvers: options.resolvers,
      schema: options.schema,
      plugins: [
        ...(options.plugins ?? []),
        ApolloServerPluginDrainHttpServer({ httpServer: httpAdapter.getHttpServer() }),
      ],
    } as ConstructorParameters<typeof ApolloServer<BaseContext>>[0]);
    await server.start();
    const context = options.context as (args: { req: unknown; res: unknown }) => Promise<BaseContext>;
    httpAdapter
      .getInstance<{ use(path: string, handler: unknown): void }>()
      .use(options.path ?? '/graphql', async (req: ExpressRequest, res: ExpressResponse) => {
        const headers = new HeaderMap();
        for (const [name, value] of Object.entries(req.headers)) {
          if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        const url = new URL(req.url ?? '/', 'http://localhost');
        const answer = await server.executeHTTPGraphQLRequest({
          httpGraphQLRequest: {
            method: req.method!.toUpperCase(),
            headers,
            search: url.search,
            body: req.body ?? {},
          },
          context: async () => context({ req, res }),
        });
        for (const [name, value] of answer.headers) res.setHeader(name, value);
        res.statusCode = answer.status ?? 200;
        if (answer.body.kind === 'complete') return res.end(answer.body.string);
        for await (const chunk of answer.body.asyncIterator) res.write(chunk);
        res.end();
      });
    this.apolloServer = server;
  }
}
