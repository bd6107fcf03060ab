import { Catch, HttpException, type ArgumentsHost } from '@nestjs/common';
import { MalformedRequestFilter } from 'nestjs-keybridge';

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
]);
const CONNECTION_ERROR_MESSAGE =
  /connection terminated|connection (was )?lost|timeout exceeded when trying to connect/i;

function isConnectionError(error: unknown): boolean {
  for (
    let current = error as
        { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown } | undefined,
      depth = 0;
    current && depth < 4;
    depth++
  ) {
    if (typeof current.code === 'string' && CONNECTION_ERROR_CODES.has(current.code)) return true;
    if (typeof current.message === 'string' && CONNECTION_ERROR_MESSAGE.test(current.message)) return true;
    current = (current.driverError ?? current.cause) as typeof current;
  }
  return false;
}

/**
 * The orders routes read the app's own tables: when the database is down they answer 503 in the same error
 * shape as the library, instead of Nest's generic 500. Everything else goes through the library's filter for
 * requests Express could not read, so a malformed body is never quoted back.
 */
@Catch()
export class DatabaseUnavailableFilter extends MalformedRequestFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    if (exception instanceof HttpException || !isConnectionError(exception)) {
      super.catch(exception, host);
      return;
    }
    const response = host.switchToHttp().getResponse<unknown>();
    this.httpAdapterHost!.httpAdapter.setHeader(response, 'Retry-After', '1');
    this.httpAdapterHost!.httpAdapter.reply(
      response,
      {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'The database is unavailable. Try again shortly.',
        code: 'database_unavailable',
      },
      503,
    );
  }
}
