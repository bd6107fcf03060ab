import { Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { IncomingRequestLike } from '../common/client-address.util.js';
import { setResponseHeaders } from '../common/http-response.util.js';
import { DPOP_ALGORITHMS } from '../dpop/dpop-proof.keys.js';
import { normalizedHtu, DpopProofVerifier } from '../dpop/dpop-proof.verifier.js';
import { registeredThumbprint } from '../dpop/jwk.thumbprint.js';
import {
  dpopChallenge,
  InsufficientScopeError,
  InvalidApiKeyError,
  InvalidDpopProofError,
  InvalidTokenError,
  UseDpopNonceError,
  type KeybridgeError,
} from '../errors/index.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ApiKeyVerifier } from '../keys/api-key.verifier.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import { AccessTokenService } from '../tokens/access-token.service.js';
import type { VerifiedToken } from '../tokens/verified-token.js';
import type { GuardedExchange } from './credential.reader.js';

type ProvenRequest = IncomingRequestLike & { method?: string };

/**
 * The routes' side of DPoP (RFC 9449 §7): a bound token with the proof that must come with it, and the key
 * header of a key that requires proof. The URL a proof must name is the configured `issuer`'s origin with
 * the request's path: the Host header and forwarding headers are the client's to choose, so they never
 * decide which server a proof was made for.
 *
 * @internal
 */
@Injectable()
export class DpopBinding {
  private readonly origin: string;

  constructor(
    private readonly proofs: DpopProofVerifier,
    private readonly keys: ApiKeyVerifier,
    private readonly tokens: AccessTokenService,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {
    this.origin = new URL(options.tokens.issuer).origin;
  }

  /**
   * The `DPoP` challenge (RFC 9449 §7.1) a refusal calls for, with its error and the accepted algorithms, or
   * `undefined` when it is not about DPoP: a proof refused or lacking a nonce, a bound token sent as a
   * bearer token, or any token refusal of a request made with the DPoP scheme.
   */
  challengeOf(refusal: KeybridgeError, dpopScheme: boolean): string | undefined {
    let error: string | undefined;
    if (refusal instanceof UseDpopNonceError) error = 'use_dpop_nonce';
    else if (refusal instanceof InvalidDpopProofError) error = 'invalid_dpop_proof';
    else if (refusal instanceof InvalidTokenError) {
      const bound = refusal.reason === 'dpop_bound' || refusal.reason === 'not_dpop_bound';
      if (bound || dpopScheme) error = 'invalid_token';
    } else if (refusal instanceof InsufficientScopeError && dpopScheme) error = 'insufficient_scope';
    if (!error) return undefined;
    return dpopChallenge(this.options.realm, DPOP_ALGORITHMS, error, refusal.message);
  }

  /** Whether the request carries a `DPoP` header. */
  hasProof(request: IncomingRequestLike): boolean {
    return request.headers.dpop !== undefined;
  }

  /** The `htu` a proof on this request must name. */
  urlOf(request: IncomingRequestLike): string {
    const raw = request.originalUrl ?? request.url ?? '/';
    const queryStart = raw.indexOf('?');
    const path = queryStart === -1 ? raw : raw.slice(0, queryStart);
    return normalizedHtu(`${this.origin}${path.startsWith('/') ? path : `/${path}`}`) ?? '';
  }

  /** The token of `Authorization: DPoP`, verified as a bearer token is, and then its proof (`proveToken`). */
  async provenToken(
    token: string,
    exchange: GuardedExchange,
    beforeVerify: ((request: IncomingRequestLike) => void) | undefined,
    now: number,
  ): Promise<VerifiedToken> {
    const verified = await this.tokens.authenticate(token, beforeVerify, exchange.request, now);
    await this.proveToken(verified, token, exchange.request, exchange.response, now);
    return verified;
  }

  /** A presented key with a `DPoP` header: the stored key, then its proof (`proveKey`). */
  async provenKey(
    key: string,
    request: ProvenRequest,
    response: unknown,
    beforeRead: ((request: IncomingRequestLike) => void) | undefined,
    now: number,
  ): Promise<VerifiedKey> {
    const verified = await this.keys.authenticate(key, beforeRead, request, now, true);
    return this.proveKey(verified, request, response, now);
  }

  /**
   * `Authorization: DPoP <token>`: the token must be bound (`cnf.jkt`), and the request's proof valid for
   * this request and this token (`ath`) and signed by the key it is bound to.
   */
  async proveToken(
    token: VerifiedToken,
    accessToken: string,
    request: ProvenRequest,
    response: unknown,
    now: number,
  ): Promise<void> {
    if (token.jkt === undefined) {
      throw new InvalidTokenError('not_dpop_bound', this.options.realm, token.keyId);
    }
    const proof = DpopProofVerifier.proofOf(request.headers);
    if (proof === undefined || proof === '') throw new InvalidDpopProofError('missing', token.keyId);
    const verified = await this.verify(proof, request, accessToken, now, token.keyId);
    if (verified.jkt !== token.jkt) throw new InvalidDpopProofError('key_mismatch', token.keyId);
    if (verified.nextNonce) setResponseHeaders(response, { 'DPoP-Nonce': verified.nextNonce });
  }

  /**
   * The key header of a key that requires proof: accepted only with a valid proof (no `ath`) signed by its
   * registered key. No proof, or any other, is the `proof_required` refusal; a proof without a current
   * server nonce gets `use_dpop_nonce`, so the client can retry. Other keys are returned as they are.
   */
  async proveKey(
    key: VerifiedKey,
    request: ProvenRequest,
    response: unknown,
    now: number,
  ): Promise<VerifiedKey> {
    if (!key.requireProof) return key;
    const refused = () => new InvalidApiKeyError('proof_required', this.options.challenge, key.id);
    let proof: string | undefined;
    try {
      proof = DpopProofVerifier.proofOf(request.headers);
    } catch {
      throw refused();
    }
    if (!proof) throw refused();
    try {
      const verified = await this.verify(proof, request, undefined, now, key.id);
      if (verified.jkt !== registeredThumbprint(key.publicKey)) throw refused();
      if (verified.nextNonce) setResponseHeaders(response, { 'DPoP-Nonce': verified.nextNonce });
      return key;
    } catch (error) {
      if (error instanceof UseDpopNonceError || !(error instanceof InvalidDpopProofError)) throw error;
      throw refused();
    }
  }

  private async verify(
    proof: string,
    request: ProvenRequest,
    accessToken: string | undefined,
    now: number,
    keyId: string,
  ) {
    try {
      return await this.proofs.verify(proof, {
        method: (request.method ?? 'GET').toUpperCase(),
        url: this.urlOf(request),
        accessToken,
        now,
      });
    } catch (error) {
      if (error instanceof InvalidDpopProofError && error.keyId === undefined) {
        throw new InvalidDpopProofError(error.reason, keyId);
      }
      throw error;
    }
  }
}
