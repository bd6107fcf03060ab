import { HttpException } from '@nestjs/common';

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
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
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
  /** Of a 429 `rate_limited` from a key's or owner's limits: the name of the limit that refused. */
  limit?: string;
  /** Of a 429 `rate_limited` from a key's or owner's limits: whose limit it is, `key` or `owner`. */
  scope?: 'key' | 'owner';
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
