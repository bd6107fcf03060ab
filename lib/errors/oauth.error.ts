import { HttpStatus } from '@nestjs/common';
import { KeybridgeError, type KeybridgeErrorCode } from './keybridge.error.js';

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
