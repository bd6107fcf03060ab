import { Inject, Injectable } from '@nestjs/common';
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWK } from 'jose';
import { ASSERTION_REPLAY_CACHE, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { AssertionRefusalReason } from '../interfaces/keybridge-event.interface.js';
import type { ReplayCache } from '../interfaces/replay-cache.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import type { InvalidKeyReason } from '../errors/index.js';
import { ApiKeyVerifier } from '../keys/api-key.verifier.js';
import { algorithmsOf } from '../keys/public-key.validation.js';
import type { VerifiedKey } from '../keys/verified-key.js';

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The algorithms a registered key may sign assertions with, as the metadata lists them. */
export const ASSERTION_SIGNING_ALGORITHMS = ['EdDSA', 'Ed25519', 'ES256', 'RS256'] as const;
/** Longest accepted time from an assertion's issue (or from now, without `iat`) to its expiry. */
export const MAX_ASSERTION_LIFETIME_MS = 5 * 60_000;

const MAX_ASSERTION_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
const KEY_ID = /^key_[0-9A-Za-z]{1,36}$/;

/** A refused assertion: the precise reason is audited, the client sees `invalid_client`. */
export class AssertionRefusal extends Error {
  constructor(
    readonly reason: `assertion_${AssertionRefusalReason}` | InvalidKeyReason | 'client_id_mismatch',
    readonly keyId?: string,
  ) {
    super('Client assertion refused.');
  }
}

/**
 * `private_key_jwt` (RFC 7523 §2.2): a JWT signed with the key registered on the client's API key. `iss` and
 * `sub` are the key id; `aud` is exactly the issuer (the rule of RFC 7523's update: the token endpoint URL
 * is not accepted, so that an assertion made for another server's endpoint cannot be played here); `exp`
 * and `jti` are required, the lifetime is at most five minutes, and each `jti` is accepted once. The
 * algorithm is pinned to the registered key's type, so `none`, HMAC and a mismatched key are refused before
 * any signature check.
 */
@Injectable()
export class ClientAssertionVerifier {
  constructor(
    private readonly keys: ApiKeyVerifier,
    @Inject(ASSERTION_REPLAY_CACHE) private readonly replays: ReplayCache,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {}

  /** The key whose registered key signed `assertion`, or `AssertionRefusal`. */
  async verify(assertion: string, claimedClientId: string | undefined): Promise<VerifiedKey> {
    const { alg, kid, iss } = this.peek(assertion);
    if (claimedClientId !== undefined && claimedClientId !== iss) {
      throw new AssertionRefusal('client_id_mismatch', iss);
    }
    const now = this.options.clock();
    const key = await this.keys.keyById(iss, now);
    if (!key) throw new AssertionRefusal('unknown');
    const refusal = key.refusal(now);
    if (refusal) throw new AssertionRefusal(refusal, key.id);
    if (!key.publicKey) throw new AssertionRefusal('assertion_no_registered_key', key.id);
    if (!algorithmsOf(key.publicKey).includes(alg)) throw new AssertionRefusal('assertion_algorithm', key.id);
    if (kid !== undefined && kid !== key.publicKey.kid)
      throw new AssertionRefusal('assertion_kid_mismatch', key.id);
    const { jti, ttlMs } = await this.checkSigned(assertion, key, alg, now);
    if (!(await this.replays.claim(`${key.id}:${jti}`, ttlMs))) {
      throw new AssertionRefusal('assertion_replayed', key.id);
    }
    return key;
  }

  /** The header and issuer, read before anything is trusted, to find the key and pin the algorithm. */
  private peek(assertion: string): { alg: string; kid: string | undefined; iss: string } {
    if (assertion.length > MAX_ASSERTION_LENGTH) throw new AssertionRefusal('assertion_malformed');
    let header: ReturnType<typeof decodeProtectedHeader>;
    let iss: unknown;
    try {
      header = decodeProtectedHeader(assertion);
      iss = decodeJwt(assertion).iss;
    } catch {
      throw new AssertionRefusal('assertion_malformed');
    }
    if (typeof header.alg !== 'string' || (header.kid !== undefined && typeof header.kid !== 'string')) {
      throw new AssertionRefusal('assertion_malformed');
    }
    if (typeof iss !== 'string' || !KEY_ID.test(iss)) throw new AssertionRefusal('assertion_claims');
    return { alg: header.alg, kid: header.kid, iss };
  }

  private async checkSigned(
    assertion: string,
    key: VerifiedKey,
    alg: string,
    now: number,
  ): Promise<{ jti: string; ttlMs: number }> {
    const toleranceMs = this.options.tokens.clockToleranceMs;
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(assertion, key.publicKey as JWK, {
        algorithms: [alg],
        issuer: key.id,
        subject: key.id,
        requiredClaims: ['exp', 'jti'],
        clockTolerance: toleranceMs / 1000,
        currentDate: new Date(now),
      }));
    } catch (error) {
      throw new AssertionRefusal(reasonOf(error), key.id);
    }
    const { aud, exp, iat, jti } = payload as { aud?: unknown; exp: number; iat?: unknown; jti: unknown };
    if (aud !== this.options.tokens.issuer) throw new AssertionRefusal('assertion_audience', key.id);
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) {
      throw new AssertionRefusal('assertion_claims', key.id);
    }
    const issuedAt = typeof iat === 'number' ? Math.min(iat * 1000, now) : now;
    if (exp * 1000 - issuedAt > MAX_ASSERTION_LIFETIME_MS + toleranceMs) {
      throw new AssertionRefusal('assertion_lifetime', key.id);
    }
    // Remembered until it could no longer be accepted anyway.
    return { jti, ttlMs: exp * 1000 - now + toleranceMs };
  }
}

function reasonOf(error: unknown): `assertion_${AssertionRefusalReason}` {
  if (error instanceof errors.JWTExpired) return 'assertion_expired';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'assertion_signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'assertion_algorithm';
  if (error instanceof errors.JWTClaimValidationFailed) return 'assertion_claims';
  return 'assertion_malformed';
}
