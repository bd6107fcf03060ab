import { HttpException, HttpStatus } from '@nestjs/common';

/** Every code a keybridge error can carry. Codes are stable: match on them, not on messages. */
export type KeybridgeErrorCode =
  | 'missing_credentials'
  | 'invalid_api_key'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'forbidden_origin'
  | 'rate_limited'
  | 'quota_exhausted'
  | 'auth_unavailable'
  | 'api_key_in_query'
  | 'invalid_argument'
  | 'key_not_found'
  | 'key_conflict'
  | 'invalid_options';

/** The JSON body of every keybridge HTTP error. */
export interface KeybridgeErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: KeybridgeErrorCode;
}

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Base of every error the library throws. It is an `HttpException`, so Nest's default exception handling
 * renders `{ statusCode, error, message, code }` without a filter; `headers` are the response headers the
 * error calls for (the guards set them before throwing).
 */
export class KeybridgeError extends HttpException {
  static readonly code: KeybridgeErrorCode = 'invalid_argument';
  readonly code: KeybridgeErrorCode;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    message: string,
    status: number,
    options: { code?: KeybridgeErrorCode; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    const code = options.code ?? (new.target as typeof KeybridgeError).code;
    const body: KeybridgeErrorBody = {
      statusCode: status,
      error: REASON_PHRASES[status] ?? 'Error',
      message,
      code,
    };
    super(body, status, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.headers = options.headers ?? {};
  }

  get body(): KeybridgeErrorBody {
    return this.getResponse() as KeybridgeErrorBody;
  }
}

export class MissingCredentialsError extends KeybridgeError {
  static override readonly code = 'missing_credentials';
  constructor(challenge: string) {
    super('No credential was presented.', HttpStatus.UNAUTHORIZED, {
      headers: { 'WWW-Authenticate': challenge },
    });
  }
}

/** Why a key was refused. Callers only ever see `invalid_api_key`; the reason goes to the audit event. */
export type InvalidKeyReason =
  'malformed' | 'bad_checksum' | 'duplicate_header' | 'unknown' | 'expired' | 'revoked' | 'disabled';

export class InvalidApiKeyError extends KeybridgeError {
  static override readonly code = 'invalid_api_key';
  constructor(
    readonly reason: InvalidKeyReason,
    challenge: string,
    readonly keyId?: string,
  ) {
    // One message for every reason, so unknown, mistyped, expired and revoked keys are indistinguishable.
    super('The API key is not valid.', HttpStatus.UNAUTHORIZED, {
      headers: { 'WWW-Authenticate': challenge },
    });
  }
}

export class InsufficientScopeError extends KeybridgeError {
  static override readonly code = 'insufficient_scope';
  constructor(
    readonly missingScopes: readonly string[],
    headers: Record<string, string> = {},
  ) {
    super(`Missing scopes: ${missingScopes.join(' ')}.`, HttpStatus.FORBIDDEN, { headers });
  }
}

export class ForbiddenOriginError extends KeybridgeError {
  static override readonly code = 'forbidden_origin';
  constructor(readonly reason: 'ip' | 'referrer') {
    super(
      reason === 'ip'
        ? 'Requests from this address are not allowed for this key.'
        : 'Requests from this referrer are not allowed for this key.',
      HttpStatus.FORBIDDEN,
    );
  }
}

/** What a rate limiter or quota reports to the client in `RateLimit-*` headers. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': String(Math.max(0, state.remaining)),
    'RateLimit-Reset': String(Math.max(0, Math.ceil(state.resetSeconds))),
  };
}

/** `Retry-After` (whole seconds, at least 1) with the `RateLimit-*` headers of a 429. */
function tooManyRequestsHeaders(state: RateLimitState): Record<string, string> {
  return { 'Retry-After': String(retryAfterSeconds(state)), ...rateLimitHeaders(state) };
}

function retryAfterSeconds(state: RateLimitState): number {
  return Math.max(1, Math.ceil(state.resetSeconds));
}

export class RateLimitedError extends KeybridgeError {
  static override readonly code = 'rate_limited';
  constructor(state: RateLimitState) {
    super(
      `Rate limit exceeded. Retry after ${retryAfterSeconds(state)} seconds.`,
      HttpStatus.TOO_MANY_REQUESTS,
      { headers: tooManyRequestsHeaders(state) },
    );
  }
}

export class QuotaExhaustedError extends KeybridgeError {
  static override readonly code = 'quota_exhausted';
  constructor(state: RateLimitState) {
    super('The quota of this API key is used up.', HttpStatus.TOO_MANY_REQUESTS, {
      headers: tooManyRequestsHeaders(state),
    });
  }
}

export class AuthUnavailableError extends KeybridgeError {
  static override readonly code = 'auth_unavailable';
  constructor(cause?: unknown) {
    super('Authentication is temporarily unavailable. Try again shortly.', HttpStatus.SERVICE_UNAVAILABLE, {
      headers: { 'Retry-After': '1' },
      cause,
    });
  }
}

export class ApiKeyInQueryError extends KeybridgeError {
  static override readonly code = 'api_key_in_query';
  constructor(parameter: string, header: string) {
    super(
      `API keys are not accepted in the query string (found "${parameter}"): query strings end up in logs. Send the key in the ${header} header.`,
      HttpStatus.BAD_REQUEST,
    );
  }
}

export class InvalidArgumentError extends KeybridgeError {
  static override readonly code = 'invalid_argument';
  constructor(message: string) {
    super(message, HttpStatus.BAD_REQUEST);
  }
}

export class KeyNotFoundError extends KeybridgeError {
  static override readonly code = 'key_not_found';
  constructor(id?: string) {
    super(
      id === undefined ? 'No API key has that id.' : `No API key has the id "${id}".`,
      HttpStatus.NOT_FOUND,
    );
  }
}

export class KeyConflictError extends KeybridgeError {
  static override readonly code = 'key_conflict';
  constructor(message: string) {
    super(message, HttpStatus.CONFLICT);
  }
}

/** Thrown at boot when the module options cannot work; the message lists what to change. */
export class InvalidOptionsError extends KeybridgeError {
  static override readonly code = 'invalid_options';
  constructor(problems: readonly string[]) {
    super(
      `ApiKeyModule options are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      HttpStatus.INTERNAL_SERVER_ERROR,
    );
  }
}
