import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '../interfaces/principal.interface.js';

/**
 * The authenticated caller (`request.user`, set by the guards) wherever a guard of this module ran: the HTTP
 * request on Express or Fastify, or the `req` of a GraphQL operation's context (as `exchangeOf` finds it).
 * Elsewhere, and on `@Public()` routes, it is `undefined`.
 *
 * @publicApi
 */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal | undefined => {
    const type = context.getType<string>();
    if (type === 'http') return context.getArgByIndex<{ user?: Principal } | undefined>(0)?.user;
    if (type === 'graphql') {
      return context.getArgByIndex<{ req?: { user?: Principal } } | undefined>(2)?.req?.user;
    }
    return undefined;
  },
);
