import { HttpException, HttpStatus } from '@nestjs/common';
import {
  bearerChallenge,
  rateLimitHeaders,
  retryAfterSeconds,
  tooManyRequestsHeaders,
  type RateLimitState,
} from './common/http-headers.util.js';

export { bearerChallenge, rateLimitHeaders, type RateLimitState };

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
  | 'invalid_options'
  | OAuthErrorCode;

/** The error codes of the OAuth endpoints (RFC 6749 §5.2, RFC 8693, RFC 8707, RFC 7009), sent as `error`. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'temporarily_unavailable';

/**
 * The `code` of each error class: the codes it sends, plus one for each class whose wire code it shares with
 * another (`ambiguous_credentials` answers `invalid_argument`) or which answers in another shape
 * (`oauth_error`, whose body carries the RFC 6749 `error`). `switch (error.code)` on an `AnyKeybridgeError`
 * narrows to its class.
 */
export type KeybridgeErrorClassCode =
  Exclude<KeybridgeErrorCode, OAuthErrorCode> | 'ambiguous_credentials' | 'oauth_error';

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
  /** Tells the class apart: every subclass has its own, on the class and on each instance. */
  static readonly code: KeybridgeErrorClassCode = 'invalid_argument';
  readonly code: KeybridgeErrorClassCode;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    message: string,
    status: number,
    options: {
      /** The `code` of the body when it is not the class's own (one documented wire code, several causes). */
      wireCode?: KeybridgeErrorCode;
      headers?: Record<string, string>;
      cause?: unknown;
      /** A body of another shape, for the OAuth endpoints whose errors RFC 6749 defines. */
      body?: object;
    } = {},
  ) {
    const code = (new.target as typeof KeybridgeError).code;
    const body = options.body ?? {
      statusCode: status,
      error: REASON_PHRASES[status] ?? 'Error',
      message,
      code: options.wireCode ?? code,
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
  static override readonly code = 'missing_credentials' as const;
  declare readonly code: 'missing_credentials';
  constructor(challenge: string) {
    super('No credential was presented.', HttpStatus.UNAUTHORIZED, {
      headers: { 'WWW-Authenticate': challenge },
    });
  }
}

/** Why a key was refused. Callers only ever see `invalid_api_key`; the reason goes to the audit event. */
export type InvalidKeyReason =
  | 'malformed'
  | 'bad_checksum'
  | 'duplicate_header'
  | 'unknown'
  | 'expired'
  | 'revoked'
  | 'disabled'
  | 'proof_required';

export class InvalidApiKeyError extends KeybridgeError {
  static override readonly code = 'invalid_api_key' as const;
  declare readonly code: 'invalid_api_key';
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

/** Why an access token was refused. Callers only ever see `invalid_token`; the reason goes to the audit event. */
export type InvalidTokenReason =
  | 'malformed'
  | 'duplicate_header'
  | 'api_key_as_bearer'
  | 'header'
  | 'algorithm'
  | 'kid'
  | 'signature'
  | 'claims'
  | 'expired'
  | 'not_yet_valid'
  | 'revoked'
  | 'key_revoked'
  | 'key_disabled'
  | 'key_expired';

const TOKEN_MESSAGES: Partial<Record<InvalidTokenReason, string>> = {
  api_key_as_bearer:
    'API keys are not bearer tokens: send the key in the API key header, or trade it for a token at the token endpoint.',
  expired: 'The access token has expired.',
};

export class InvalidTokenError extends KeybridgeError {
  static override readonly code = 'invalid_token' as const;
  declare readonly code: 'invalid_token';
  constructor(
    readonly reason: InvalidTokenReason,
    realm: string,
    readonly keyId?: string,
  ) {
    const message = TOKEN_MESSAGES[reason] ?? 'The access token is not valid.';
    super(message, HttpStatus.UNAUTHORIZED, {
      headers: {
        'WWW-Authenticate': bearerChallenge(realm, 'invalid_token', { error_description: message }),
      },
    });
  }
}

export class InsufficientScopeError extends KeybridgeError {
  static override readonly code = 'insufficient_scope' as const;
  declare readonly code: 'insufficient_scope';
  constructor(
    readonly missingScopes: readonly string[],
    headers: Record<string, string> = {},
  ) {
    super(`Missing scopes: ${missingScopes.join(' ')}.`, HttpStatus.FORBIDDEN, { headers });
  }
}

export class ForbiddenOriginError extends KeybridgeError {
  static override readonly code = 'forbidden_origin' as const;
  declare readonly code: 'forbidden_origin';
  constructor(readonly reason: 'ip' | 'referrer') {
    super(
      reason === 'ip'
        ? 'Requests from this address are not allowed for this key.'
        : 'Requests from this referrer are not allowed for this key.',
      HttpStatus.FORBIDDEN,
    );
  }
}

export class RateLimitedError extends KeybridgeError {
  static override readonly code = 'rate_limited' as const;
  declare readonly code: 'rate_limited';
  constructor(state: RateLimitState, reason = 'Rate limit exceeded.') {
    super(`${reason} Retry after ${retryAfterSeconds(state)} seconds.`, HttpStatus.TOO_MANY_REQUESTS, {
      headers: tooManyRequestsHeaders(state),
    });
  }
}

export class QuotaExhaustedError extends KeybridgeError {
  static override readonly code = 'quota_exhausted' as const;
  declare readonly code: 'quota_exhausted';
  constructor(state: RateLimitState) {
    super('The quota of this API key is used up.', HttpStatus.TOO_MANY_REQUESTS, {
      headers: tooManyRequestsHeaders(state),
    });
  }
}

export class AuthUnavailableError extends KeybridgeError {
  static override readonly code = 'auth_unavailable' as const;
  declare readonly code: 'auth_unavailable';
  constructor(cause?: unknown) {
    super('Authentication is temporarily unavailable. Try again shortly.', HttpStatus.SERVICE_UNAVAILABLE, {
      headers: { 'Retry-After': '1' },
      cause,
    });
  }
}

export class ApiKeyInQueryError extends KeybridgeError {
  static override readonly code = 'api_key_in_query' as const;
  declare readonly code: 'api_key_in_query';
  constructor(parameter: string, header: string) {
    super(
      `API keys are not accepted in the query string (found "${parameter}"): query strings end up in logs. Send the key in the ${header} header.`,
      HttpStatus.BAD_REQUEST,
    );
  }
}

export class InvalidArgumentError extends KeybridgeError {
  static override readonly code = 'invalid_argument' as const;
  declare readonly code: 'invalid_argument';
  constructor(message: string) {
    super(message, HttpStatus.BAD_REQUEST);
  }
}

export class KeyNotFoundError extends KeybridgeError {
  static override readonly code = 'key_not_found' as const;
  declare readonly code: 'key_not_found';
  constructor(id?: string) {
    super(
      id === undefined ? 'No API key has that id.' : `No API key has the id "${id}".`,
      HttpStatus.NOT_FOUND,
    );
  }
}

export class KeyConflictError extends KeybridgeError {
  static override readonly code = 'key_conflict' as const;
  declare readonly code: 'key_conflict';
  constructor(message: string) {
    super(message, HttpStatus.CONFLICT);
  }
}

/** More than one credential on one request (an API key and a bearer token): it is refused, not guessed between. */
export class AmbiguousCredentialsError extends KeybridgeError {
  static override readonly code = 'ambiguous_credentials' as const;
  declare readonly code: 'ambiguous_credentials';
  constructor(header: string) {
    super(
      `Present one credential: either the ${header} header or an Authorization: Bearer token, not both.`,
      HttpStatus.BAD_REQUEST,
      { wireCode: 'invalid_argument' },
    );
  }
}

/**
 * An error of the OAuth endpoints, answered as RFC 6749 §5.2 says: `{ error, error_description }` with
 * `Cache-Control: no-store`, 400 (or 401 with `WWW-Authenticate` for `invalid_client`).
 */
export class OAuthError extends KeybridgeError {
  static override readonly code = 'oauth_error' as const;
  declare readonly code: 'oauth_error';
  constructor(
    readonly error: KeybridgeErrorCode,
    readonly description: string,
    status: number = HttpStatus.BAD_REQUEST,
    headers: Record<string, string> = {},
    cause?: unknown,
  ) {
    super(description, status, {
      headers,
      cause,
      body: { error, error_description: description },
    });
  }
}

/**
 * Thrown at boot when the module options cannot work; the message lists what to change. It is not an HTTP
 * exception: it never answers a request, it stops the app from starting.
 */
export class InvalidOptionsError extends Error {
  static readonly code = 'invalid_options' as const;
  readonly code = InvalidOptionsError.code;
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`ApiKeyModule options are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InvalidOptionsError';
    this.problems = [...problems];
  }
}

/** Every error the library throws; `switch (error.code)` narrows to the class. */
export type AnyKeybridgeError =
  | MissingCredentialsError
  | InvalidApiKeyError
  | InvalidTokenError
  | InsufficientScopeError
  | ForbiddenOriginError
  | RateLimitedError
  | QuotaExhaustedError
  | AuthUnavailableError
  | ApiKeyInQueryError
  | InvalidArgumentError
  | KeyNotFoundError
  | KeyConflictError
  | AmbiguousCredentialsError
  | OAuthError
  | InvalidOptionsError;
