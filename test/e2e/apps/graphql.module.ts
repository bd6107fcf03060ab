import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module, UseGuards, type DynamicModule } from '@nestjs/common';
import { GraphQLModule, Query, Resolver } from '@nestjs/graphql';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  ApiKeyGuard,
  ApiKeyModule,
  CurrentPrincipal,
  Public,
  Scopes,
  type Principal,
} from 'nestjs-keybridge';
import type { KeybridgeOptions } from '../support/app-starter.js';
import { fixtureDatabase } from './database.options.js';

/** Schema-first: the schema is a string, so nothing depends on emitted design types. */
const TYPE_DEFS = /* GraphQL */ `
  type Query {
    whoami: String!
    credential: String!
    writer: String!
    ping: String!
  }
`;

/** Resolvers that hand back what `@CurrentPrincipal()` sees, each guarded by the module's guard. */
@Resolver()
@UseGuards(ApiKeyGuard)
export class PrincipalResolver {
  @Query()
  @Scopes('things:read')
  whoami(@CurrentPrincipal() principal: Principal): string {
    return principal.keyId;
  }

  @Query()
  @Scopes('things:read')
  credential(@CurrentPrincipal() principal: Principal): string {
    return principal.type;
  }

  @Query()
  @Scopes('things:write')
  writer(@CurrentPrincipal() principal: Principal): string {
    return principal.keyId;
  }

  @Query()
  @Public()
  ping(@CurrentPrincipal() principal: Principal | undefined): string {
    return principal === undefined ? 'anonymous' : principal.keyId;
  }
}

/** An Apollo GraphQL app whose resolvers are guarded per resolver class. */
@Module({})
export class GraphqlAppModule {
  static forRoot(databaseUrl: string, keybridge: KeybridgeOptions): DynamicModule {
    return {
      module: GraphqlAppModule,
      imports: [
        TypeOrmModule.forRoot(fixtureDatabase(databaseUrl)),
        ApiKeyModule.forRoot(keybridge),
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          typeDefs: TYPE_DEFS,
          context: ({ req, res }: { req: unknown; res: unknown }) => ({ req, res }),
        }),
      ],
      providers: [PrincipalResolver],
    };
  }
}
