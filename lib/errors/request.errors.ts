import { HttpStatus } from '@nestjs/common';
import { bearerChallenge } from './error-headers.js';
import { KeybridgeError } from './keybridge.error.js';

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
  | 'key_expired'
  /** A DPoP-bound token (`cnf.jkt`) presented as a bearer token. */
  | 'dpop_bound'
  /** A token without `cnf.jkt` presented with the DPoP scheme. */
  | 'not_dpop_bound';

const TOKEN_MESSAGES: Partial<Record<InvalidTokenReason, string>> = {
  api_key_as_bearer:
    'API keys are not bearer tokens: send the key in the API key header, or trade it for a token at the token endpoint.',
  expired: 'The access token has expired.',
  dpop_bound: 'The access token is bound to a DPoP key: send it as Authorization: DPoP with a DPoP proof.',
  not_dpop_bound: 'The access token is not DPoP-bound: send it as Authorization: Bearer.',
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
