import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { DpopProofVerifier, normalizedHtu } from '../dpop/dpop-proof.verifier.js';
import { registeredThumbprint } from '../dpop/jwk.thumbprint.js';
import { InvalidDpopProofError, OAuthError, UseDpopNonceError } from '../errors/index.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import type { ClientAuthMethod } from '../interfaces/keybridge-event.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import { basicChallenge } from './client-credentials.reader.js';
import type { OAuthRequest } from './oauth.responder.js';

/** A token request's checked DPoP proof: the thumbprint the token is bound to. */
export interface TokenRequestProof {
  jkt: string;
}

/**
 * DPoP at the token endpoint (RFC 9449 §5): a request with a valid proof (`htm` POST, `htu` the token
 * endpoint of the metadata) gets a token bound to the proof's key. A refused proof is 400
 * `invalid_dpop_proof`; with nonces on, a proof without a current nonce is 400 `use_dpop_nonce` with the
 * nonce in `DPoP-Nonce`. For a key that requires proof, a proof must be signed by its registered key: with
 * the key's secret, such a proof is what lets the secret in (`proof_required` otherwise); with
 * `private_key_jwt`, which proves the key already, a proof by another key is `invalid_dpop_proof`.
 */
@Injectable()
export class TokenDpopBinding {
  private readonly url: string;

  constructor(
    private readonly proofs: DpopProofVerifier,
    private readonly events: KeybridgeEventEmitter,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {
    const { issuer } = options.tokens;
    this.url = normalizedHtu(`${issuer}${options.routes.token}`) ?? '';
  }

  /** The request's checked proof, `undefined` without a `DPoP` header, or the OAuth error of a refused one. */
  async proofOf(request: OAuthRequest, ip: string | undefined): Promise<TokenRequestProof | undefined> {
    const now = this.options.clock();
    try {
      const proof = DpopProofVerifier.proofOf(request.headers);
      if (proof === undefined) return undefined;
      const { jkt } = await this.proofs.verify(proof, { method: 'POST', url: this.url, now });
      return { jkt };
    } catch (error) {
      if (error instanceof UseDpopNonceError) {
        throw new OAuthError('use_dpop_nonce', 'Authorization server requires nonce in DPoP proof.', 400, {
          'DPoP-Nonce': error.nonce,
        });
      }
      if (!(error instanceof InvalidDpopProofError)) throw error;
      throw this.refuse(error.reason === 'missing' ? 'malformed' : error.reason, undefined, ip);
    }
  }

  /**
   * A key that requires proof takes a proof only from its registered key. With its secret (`method` not
   * `private_key_jwt`), that proof is required; the refusal is then `invalid_client`, as for the secret
   * alone (`invalid_request` for a subject token without client authentication, `method` undefined).
   */
  checkKey(
    key: VerifiedKey,
    proof: TokenRequestProof | undefined,
    method: ClientAuthMethod | undefined,
    ip: string | undefined,
  ): void {
    if (!key.requireProof) return;
    const secretOnly = method !== 'private_key_jwt';
    if (proof && proof.jkt === registeredThumbprint(key.publicKey)) return;
    if (!proof && !secretOnly) return;
    if (secretOnly) {
      this.events.emit({
        type: 'auth.failed',
        reason: 'proof_required',
        keyId: key.id,
        ip,
        ...(method ? { authMethod: method } : {}),
        at: new Date(this.options.clock()),
      });
      // A token exchange without client authentication: the key is the subject token (RFC 8693 §2.2.2).
      if (method === undefined) {
        throw new OAuthError('invalid_request', 'The subject_token is not a valid API key.');
      }
      throw new OAuthError('invalid_client', 'Client authentication failed.', HttpStatus.UNAUTHORIZED, {
        'WWW-Authenticate':
          method === 'api_key_header' ? this.options.challenge : basicChallenge(this.options.realm),
      });
    }
    throw this.refuse('key_mismatch', key.id, ip);
  }

  /** `DPoP-Nonce` with the current nonce for a successful answer, when nonces are on. */
  headers(): Record<string, string> {
    const nonce = this.proofs.currentNonce(this.options.clock());
    return nonce ? { 'DPoP-Nonce': nonce } : {};
  }

  private refuse(
    reason: InvalidDpopProofError['reason'],
    keyId: string | undefined,
    ip: string | undefined,
  ): OAuthError {
    this.events.emit({
      type: 'auth.failed',
      reason: `dpop_${reason}`,
      ...(keyId ? { keyId } : {}),
      authMethod: 'dpop',
      ip,
      at: new Date(this.options.clock()),
    });
    return new OAuthError(
      'invalid_dpop_proof',
      reason === 'key_mismatch'
        ? "The DPoP proof must be signed by the client's registered key."
        : 'The DPoP proof is not valid.',
    );
  }
}
