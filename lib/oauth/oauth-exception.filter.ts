import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { KeybridgeError, OAuthError } from '../errors/index.js';
import { replyOAuth } from './oauth.reply.js';

/**
 * Renders what escapes the OAuth routes before their handler answers — an app-wide guard's refusal (a
 * throttler's 429, an address filter's 403), an interceptor's or a pipe's error — as an RFC 6749 §5.2 error
 * with `Cache-Control: no-store`, so OAuth clients parse it whatever the app's global guards are. The handlers
 * themselves never throw: each endpoint answers its own errors.
 */
@Catch()
export class OAuthExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Keybridge');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const refusal = this.refusalOf(exception);
    replyOAuth(this.adapterHost, host.switchToHttp().getResponse(), {
      status: refusal.getStatus(),
      body: refusal.getResponse() as object,
      headers: { ...(exception instanceof KeybridgeError ? exception.headers : {}), ...refusal.headers },
    });
  }

  private refusalOf(exception: unknown): OAuthError {
    if (exception instanceof OAuthError) return exception;
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    if (status === HttpStatus.TOO_MANY_REQUESTS) {
      // A throttler sets its own Retry-After on the response before it throws; it stays.
      return new OAuthError('rate_limited', 'Too many requests: retry later.', status);
    }
    if (status === HttpStatus.UNAUTHORIZED) {
      return new OAuthError(
        'invalid_client',
        'The request was refused before the client was checked.',
        status,
      );
    }
    if (status < 500) {
      return new OAuthError(
        'invalid_request',
        'The request was refused before it reached the endpoint.',
        status,
      );
    }
    // The cause stays in the log; the client learns only that it may retry.
    this.logger.warn(
      `OAuth request failed before its endpoint answered: ${(exception as Error)?.message ?? 'unknown cause'}`,
    );
    return new OAuthError(
      'temporarily_unavailable',
      'The authorization server is temporarily unavailable. Try again shortly.',
      HttpStatus.SERVICE_UNAVAILABLE,
      { 'Retry-After': '1' },
    );
  }
}
