import { BadRequestException, Catch, HttpStatus, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';

/**
 * Whether an error is Express failing to read a request: body-parser's `SyntaxError` on a malformed JSON
 * body, or the `URIError` of an undecodable path parameter. Their messages quote the input (`Unexpected token
 * 'k', "kb_live_…" is not valid JSON`), which may hold a key: they must not reach a response or a log.
 */
export function isUnreadableRequest(error: unknown): error is SyntaxError | URIError {
  return (
    (error instanceof SyntaxError || error instanceof URIError) &&
    (error as { status?: unknown }).status === HttpStatus.BAD_REQUEST
  );
}

/**
 * Answers a request Express could not read — a malformed JSON body, an undecodable path — with a 400 that
 * does not quote the input, and hands every other exception to Nest's default handling. Fastify's own
 * answers quote nothing; this filter changes nothing there.
 *
 * Register it globally (`app.useGlobalFilters(new MalformedRequestFilter(app.get(HttpAdapterHost).httpAdapter))`
 * or `{ provide: APP_FILTER, useClass: MalformedRequestFilter }`), or extend it instead of
 * `BaseExceptionFilter` in a catch-all filter of your own.
 *
 * @publicApi
 */
@Catch()
export class MalformedRequestFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const cause = exception instanceof BadRequestException ? exception.cause : exception;
    if (!isUnreadableRequest(cause)) {
      super.catch(exception, host);
      return;
    }
    const message =
      cause instanceof SyntaxError
        ? 'The request body is not valid JSON.'
        : 'The request URL could not be decoded.';
    super.catch(new BadRequestException(message), host);
  }
}

/** The part of a Fastify reply `rejectUnreadableUrl` uses. */
interface FrameworkErrorReply {
  code(status: number): { send(body: unknown): unknown };
}

/**
 * A Fastify `frameworkErrors` handler: Fastify's router answers a URL it cannot decode before any Nest
 * filter runs, quoting the path, which may hold a key. This answers it with the same 400 as
 * `MalformedRequestFilter`, quoting nothing: `new FastifyAdapter({ frameworkErrors: rejectUnreadableUrl })`.
 *
 * @publicApi
 */
export function rejectUnreadableUrl(_error: Error, _request: unknown, reply: unknown): void {
  (reply as FrameworkErrorReply).code(HttpStatus.BAD_REQUEST).send({
    statusCode: HttpStatus.BAD_REQUEST,
    message: 'The request URL could not be decoded.',
    error: 'Bad Request',
  });
}
