import { Inject, Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where request lines go: Nest's logger by default; tests collect them. */
export const REQUEST_LOG = Symbol('SAMPLE_REQUEST_LOG');
export type RequestLog = (line: string) => void;
/** The key prefixes the app is configured with: anything in a URL that starts with one is redacted. */
export const LOGGED_KEY_PREFIXES = Symbol('SAMPLE_LOGGED_KEY_PREFIXES');

/** Headers whose values are credentials: logged as `[redacted]`. */
const SECRET_HEADERS = new Set(['x-api-key', 'authorization', 'cookie', 'proxy-authorization']);
/** Query parameters whose values are credentials (refused by the guard, but logged before it runs). */
const SECRET_PARAMETERS = /^(api_?key|key|token|access_token|client_secret|subject_token)$/i;
/** The pieces of a URL a credential can hide in: path segments, parameter names and values, the fragment. */
const URL_DELIMITERS = /([/?&=#;,+])/;
/** A JWT: three base64url segments, the first a JSON object (`{"` encodes as `eyJ`). */
const JWT_SHAPE = /eyJ[\w-]*\.[\w-]*\.[\w-]*/;
/** A key's body without its prefix (43 random characters and a 6-character checksum), or any run that long. */
const LONG_BASE62_RUN = /[A-Za-z0-9]{40,}/;

/**
 * One JSON line per request: method, URL, status, duration and the request headers, with every credential
 * replaced by `[redacted]` — keys and tokens never reach the log.
 */
@Injectable()
export class RequestLoggingMiddleware implements NestMiddleware {
  private readonly redactor: UrlRedactor;

  constructor(
    @Inject(REQUEST_LOG) private readonly log: RequestLog,
    @Inject(LOGGED_KEY_PREFIXES) prefixes: readonly string[],
  ) {
    this.redactor = new UrlRedactor(prefixes);
  }

  use(request: IncomingMessage & { originalUrl?: string }, response: ServerResponse, next: () => void): void {
    const started = performance.now();
    response.on('finish', () => {
      this.log(
        JSON.stringify({
          method: request.method,
          url: this.redactor.redact(request.originalUrl ?? request.url ?? ''),
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

/**
 * A URL fit for the log: the values of credential parameters, and every piece of the URL (path segment,
 * parameter name or value, fragment) that holds something shaped like a key or a JWT, percent-encoded or
 * not, become `[redacted]`. A key pasted anywhere in a URL is a key in the log otherwise.
 */
export class UrlRedactor {
  private readonly keyShape: RegExp;

  constructor(prefixes: readonly string[]) {
    const escaped = prefixes.map((prefix) => prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    // A prefix followed by anything of a key's alphabet: a key cut short is still part of a key.
    this.keyShape = new RegExp(`(?:${escaped.join('|')})[A-Za-z0-9]`, 'i');
  }

  redact(url: string): string {
    return redactCredentialParameters(url)
      .split(URL_DELIMITERS)
      .map((piece, index) => (index % 2 === 0 && this.secretIn(piece) ? '[redacted]' : piece))
      .join('');
  }

  private secretIn(piece: string): boolean {
    if (piece.length < 8) return false;
    const decoded = percentDecoded(piece);
    return this.keyShape.test(decoded) || JWT_SHAPE.test(decoded) || LONG_BASE62_RUN.test(decoded);
  }
}

function redactCredentialParameters(url: string): string {
  const start = url.indexOf('?');
  if (start === -1) return url;
  const end = url.indexOf('#', start);
  const query = url.slice(start + 1, end === -1 ? undefined : end);
  const params = new URLSearchParams(query);
  if (![...params.keys()].some((name) => SECRET_PARAMETERS.test(name))) return url;
  for (const name of [...params.keys()]) if (SECRET_PARAMETERS.test(name)) params.set(name, '[redacted]');
  return `${url.slice(0, start)}?${params.toString()}${end === -1 ? '' : url.slice(end)}`;
}

/** Percent-decoded, or as it is when the encoding is broken (the broken bytes are then judged as they are). */
function percentDecoded(piece: string): string {
  try {
    return decodeURIComponent(piece);
  } catch {
    return piece;
  }
}

/** The default sink: Nest's logger, context `HTTP`. */
export function nestRequestLog(): RequestLog {
  const logger = new Logger('HTTP');
  return (line) => logger.log(line);
}
