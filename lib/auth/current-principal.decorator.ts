import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '../interfaces/principal.interface.js';

/** The authenticated caller of the current request (`request.user`), set by the guards. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal | undefined =>
    context.switchToHttp().getRequest<{ user?: Principal }>().user,
);
