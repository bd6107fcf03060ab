import { Inject, Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where request lines go: Nest's logger by default; tests collect them. */
export const REQUEST_LOG = Symbol('SAMPLE_REQUEST_LOG');
export type RequestLog = (line: string) => void;

/** Headers whose values are credentials: logged as `[redacted]`. */
const SECRET_HEADERS = new Set(['x-api-key', 'authorization', 'cookie', 'proxy-authorization']);
/** Query parameters whose values are credentials (refused by the guard, but logged before it runs). */
const SECRET_PARAMETERS = /^(api_?key|key|token|access_token|client_secret|subject_token)$/i;

/**
 * One JSON line per request: method, URL, status, duration and the request headers, with every credential
 * replaced by `[redacted]` — keys and tokens never reach the log.
 */
@Injectable()
export class RequestLoggingMiddleware implements NestMiddleware {
  constructor(@Inject(REQUEST_LOG) private readonly log: RequestLog) {}

  use(request: IncomingMessage & { originalUrl?: string }, response: ServerResponse, next: () => void): void {
    const started = performance.now();
    response.on('finish', () => {
      this.log(
        JSON.stringify({
          method: request.method,
          url: redactUrl(request.originalUrl ?? request.url ?? ''),
          status: response.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
          headers: redactHeaders(request.headers),
        }),
      );
    });
    next();
  }
}

export function redactHeaders(headers: IncomingMessage['headers']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? '[redacted]' : value;
  }
  return out;
}

export function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  const params = new URLSearchParams(url.slice(start + 1));
  for (const name of [...params.keys()]) if (SECRET_PARAMETERS.test(name)) params.set(name, '[redacted]');
  return `${url.slice(0, start)}?${params.toString()}`;
}

/** The default sink: Nest's logger, context `HTTP`. */
export function nestRequestLog(): RequestLog {
  const logger = new Logger('HTTP');
  return (line) => logger.log(line);
}
