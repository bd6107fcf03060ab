import { hash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ASSERTION_REPLAY_CACHE, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { InvalidDpopProofError, UseDpopNonceError } from '../errors/index.js';
import type { ReplayCache } from '../interfaces/replay-cache.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { DpopNonces } from './dpop.nonces.js';
import { DpopProofKeys, jsonSegment, verifySignature } from './dpop-proof.keys.js';

const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
const MAX_NORMALIZED = 1000;
const normalized = new Map<string, string | undefined>();
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** What a proof must match: the request it came with. */
export interface ProofExpectation {
  /** The request's method, upper case. */
  method: string;
  /** The request's URL as `normalizedHtu` gives it. */
  url: string;
  /** The access token presented with the proof; its hash must be the proof's `ath`. */
  accessToken?: string;
  now: number;
}

/** A proof that passed every check. */
export interface VerifiedProof {
  /** RFC 7638 thumbprint of the key that signed it. */
  jkt: string;
  /** A fresher nonce to send back in `DPoP-Nonce`, when nonces are on and the proof's is about to lapse. */
  nextNonce: string | undefined;
}

/**
 * `scheme://host[:port]/path` of an absolute http(s) URL, as RFC 9449 §4.3 compares `htu` (RFC 3986 §6.2.2
 * and §6.2.3 normalisation by the WHATWG parser: lower-case scheme and host, no default port), without its
 * query and fragment. `undefined` for anything else.
 */
export function normalizedHtu(url: string): string | undefined {
  // A client names the same few URLs on every proof, and a route is requested at the same few paths.
  if (normalized.has(url)) return normalized.get(url);
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  const result =
    parsed && (parsed.protocol === 'https:' || parsed.protocol === 'http:')
      ? `${parsed.origin}${parsed.pathname}`
      : undefined;
  if (normalized.size >= MAX_NORMALIZED) normalized.clear();
  normalized.set(url, result);
  return result;
}

/**
 * Verifies DPoP proofs (RFC 9449 §4.3). It checks: one well-formed compact JWS; `typ` `dpop+jwt`; an accepted
 * asymmetric `alg` matching a public `jwk` (no private members, no `crit`); the signature; `jti`, `htm` (the request's
 * method), `htu` (the request's URL without query and fragment), `iat` within `proofMaxAge` (plus the clock
 * tolerance either way); `ath` when an access token is presented (and its absence otherwise); the server
 * nonce when nonces are on; and, last, that the `jti` is new, across instances through the replay cache. It
 * leaves to the caller: comparing the key's thumbprint with a token's `cnf.jkt` or a registered key.
 *
 * @internal
 */
@Injectable()
export class DpopProofVerifier {
  private readonly keys: DpopProofKeys;
  readonly nonces: DpopNonces | undefined;
  private readonly toleranceMs: number;

  constructor(
    @Inject(ASSERTION_REPLAY_CACHE) private readonly replays: ReplayCache,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {
    this.keys = new DpopProofKeys(options.clock);
    this.toleranceMs = options.tokens.clockToleranceMs;
    const { tokens, dpop } = options;
    if (tokens.enabled && dpop.nonce) {
      this.nonces = new DpopNonces(tokens.keys, tokens.issuer, dpop.nonceLifetimeMs);
    }
  }

  /** The `DPoP` header of a request: `undefined` when absent, `InvalidDpopProofError` when sent twice. */
  static proofOf(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
    const value = headers.dpop;
    if (value === undefined) return undefined;
    // Node joins a repeated header with ", "; no compact JWS contains a comma.
    if (Array.isArray(value) || value.includes(',')) throw new InvalidDpopProofError('duplicate_header');
    return value.trim();
  }

  /** The proof's key thumbprint once every check passed, or `InvalidDpopProofError` / `UseDpopNonceError`. */
  async verify(proof: string, expected: ProofExpectation): Promise<VerifiedProof> {
    if (proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof)) {
      throw new InvalidDpopProofError('malformed');
    }
    const { now } = expected;
    const headerEnd = proof.indexOf('.');
    const payloadEnd = proof.indexOf('.', headerEnd + 1);
    const { alg, jkt, key } = await this.keys.of(proof.slice(0, headerEnd), now);
    const signature = Buffer.from(proof.slice(payloadEnd + 1), 'base64url');
    if (!verifySignature(alg, key, proof.slice(0, payloadEnd), signature)) {
      throw new InvalidDpopProofError('signature');
    }
    const { jti, htm, htu, iat, ath, nonce } = jsonSegment(proof.slice(headerEnd + 1, payloadEnd), 'claims');
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) {
      throw new InvalidDpopProofError('claims');
    }
    if (htm !== expected.method) throw new InvalidDpopProofError('htm');
    if (typeof htu !== 'string' || normalizedHtu(htu) !== expected.url)
      throw new InvalidDpopProofError('htu');
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new InvalidDpopProofError('claims');
    const age = now - iat * 1000;
    if (age > this.options.dpop.proofMaxAgeMs + this.toleranceMs || age < -this.toleranceMs) {
      throw new InvalidDpopProofError('iat');
    }
    if (expected.accessToken === undefined) {
      if (ath !== undefined) throw new InvalidDpopProofError('ath');
    } else if (ath !== hash('sha256', expected.accessToken, 'base64url')) {
      throw new InvalidDpopProofError('ath');
    }
    const nextNonce = this.checkNonce(nonce, now);
    // Kept until the proof's iat could no longer be accepted anyway.
    const ttlMs = iat * 1000 + this.options.dpop.proofMaxAgeMs + this.toleranceMs - now + 1;
    if (!(await this.replays.claim(`dpop:${jkt}:${jti}`, ttlMs))) {
      throw new InvalidDpopProofError('replayed');
    }
    return { jkt, nextNonce };
  }

  /** The nonce to hand out now, when nonces are on. */
  currentNonce(now: number): string | undefined {
    return this.nonces?.issue(now);
  }

  private checkNonce(nonce: unknown, now: number): string | undefined {
    if (!this.nonces) return undefined;
    const state = this.nonces.check(nonce, now);
    if (state === undefined) throw new UseDpopNonceError(this.nonces.issue(now));
    return state === 'previous' ? this.nonces.issue(now) : undefined;
  }
}
