import { HttpStatus } from '@nestjs/common';
import { KeybridgeError } from './keybridge.error.js';

/** Why a DPoP proof (RFC 9449) was refused. Callers see `invalid_dpop_proof`; the reason goes to the audit event. */
export type DpopRefusalReason =
  | 'missing'
  | 'malformed'
  | 'duplicate_header'
  | 'typ'
  | 'algorithm'
  | 'jwk'
  | 'private_key'
  | 'signature'
  | 'claims'
  | 'htm'
  | 'htu'
  | 'iat'
  | 'ath'
  | 'nonce'
  | 'replayed'
  | 'key_mismatch';

/**
 * `WWW-Authenticate: DPoP …` (RFC 9449 §7.1): the scheme of DPoP-bound tokens, with the error, its
 * description and the proof algorithms the server accepts.
 */
export function dpopChallenge(
  realm: string,
  algorithms: readonly string[],
  error?: string,
  description?: string,
): string {
  const params = [`realm="${realm}"`];
  if (error) params.push(`error="${error}"`);
  if (description) params.push(`error_description="${description}"`);
  params.push(`algs="${algorithms.join(' ')}"`);
  return `DPoP ${params.join(', ')}`;
}

/** A DPoP proof that cannot be accepted: 401 on a guarded route (400 `invalid_dpop_proof` at the token endpoint). */
export class InvalidDpopProofError extends KeybridgeError {
  static override readonly code = 'invalid_dpop_proof' as const;
  declare readonly code: 'invalid_dpop_proof';
  constructor(
    readonly reason: DpopRefusalReason,
    readonly keyId?: string,
  ) {
    super(
      reason === 'key_mismatch'
        ? 'The DPoP proof is not signed by the key the credential is bound to.'
        : 'The DPoP proof is not valid.',
      HttpStatus.UNAUTHORIZED,
    );
  }
}

/** The proof lacks a current server nonce (RFC 9449 §8, §9): retry with the one in `DPoP-Nonce`. */
export class UseDpopNonceError extends KeybridgeError {
  static override readonly code = 'use_dpop_nonce' as const;
  declare readonly code: 'use_dpop_nonce';
  constructor(readonly nonce: string) {
    super('Retry with the server nonce in the DPoP-Nonce header.', HttpStatus.UNAUTHORIZED, {
      headers: { 'DPoP-Nonce': nonce },
    });
  }
}
