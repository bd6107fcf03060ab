import { constants, KeyObject, verify } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import { TtlCache } from '../common/ttl.cache.js';
import { InvalidDpopProofError } from '../errors/index.js';
import { jwkThumbprint } from './jwk.thumbprint.js';

/** The proof algorithms accepted (RFC 9449 §5.1 lists them as `dpop_signing_alg_values_supported`). */
export const DPOP_ALGORITHMS = ['EdDSA', 'Ed25519', 'ES256', 'RS256', 'PS256'] as const;
/** RFC 9449 §4.2: the `typ` of a proof. */
export const DPOP_PROOF_TYPE = 'dpop+jwt';

/** Members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_HEADER_LENGTH = 2048;
const MIN_RSA_MODULUS_BYTES = 256;
const KEY_CACHE_MAX = 10_000;
const KEY_CACHE_TTL_MS = 60 * 60_000;

/** The key a proof header carries, checked and imported. */
export interface ProofKey {
  alg: string;
  /** RFC 7638 thumbprint of the public key: what a bound token's `cnf.jkt` names. */
  jkt: string;
  key: KeyObject;
}

/**
 * Reads the protected header of DPoP proofs: `typ`, an accepted asymmetric `alg`, and a public `jwk` of the
 * matching type (no private members, RSA of at least 2048 bits). The key is imported with `jose` and kept
 * as a Node key object, cached by the header's exact encoded text, which a client repeats on every proof, so
 * the hot path neither parses nor imports it again; anything else in the proof is checked every time.
 */
export class DpopProofKeys {
  private readonly cache: TtlCache<ProofKey>;

  constructor(clock: () => number) {
    this.cache = new TtlCache(KEY_CACHE_MAX, KEY_CACHE_TTL_MS, clock);
  }

  /** The checked key of the proof whose encoded header is `segment`, or `InvalidDpopProofError`. */
  async of(segment: string, now: number): Promise<ProofKey> {
    const cached = this.cache.get(segment, now);
    if (cached) return cached;
    const { alg, jwk } = readHeader(segment);
    const jkt = jwkThumbprint(jwk);
    if (!jkt) throw new InvalidDpopProofError('jwk');
    let key: KeyObject;
    try {
      key = KeyObject.from((await importJWK(jwk as JWK, alg)) as Parameters<typeof KeyObject.from>[0]);
    } catch {
      throw new InvalidDpopProofError('jwk');
    }
    const checked = { alg, jkt, key };
    this.cache.set(segment, checked);
    return checked;
  }
}

function readHeader(segment: string): { alg: string; jwk: Record<string, unknown> } {
  if (segment.length > MAX_HEADER_LENGTH) throw new InvalidDpopProofError('malformed');
  const { typ, alg, jwk, crit } = jsonSegment(segment, 'malformed');
  if (typ !== DPOP_PROOF_TYPE) throw new InvalidDpopProofError('typ');
  if (typeof alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new InvalidDpopProofError('algorithm');
  }
  if (crit !== undefined) throw new InvalidDpopProofError('malformed');
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw new InvalidDpopProofError('jwk');
  const members = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((name) => name in members)) throw new InvalidDpopProofError('private_key');
  if (!fits(alg, members)) throw new InvalidDpopProofError('algorithm');
  return { alg, jwk: members };
}

/** The key type the algorithm needs: Ed25519 for EdDSA, P-256 for ES256, RSA ≥ 2048 bits for RS256/PS256. */
function fits(alg: string, jwk: Record<string, unknown>): boolean {
  if (alg === 'EdDSA' || alg === 'Ed25519') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  return (
    jwk.kty === 'RSA' &&
    typeof jwk.n === 'string' &&
    Buffer.from(jwk.n, 'base64url').length >= MIN_RSA_MODULUS_BYTES
  );
}

/**
 * Checks a compact JWS signature with Node's crypto, synchronously: one signature per request is the DPoP
 * hot path, and WebCrypto's asynchronous verification costs several times more CPU for the same check.
 */
export function verifySignature(alg: string, key: KeyObject, input: string, signature: Buffer): boolean {
  const data = Buffer.from(input, 'utf8');
  try {
    if (alg === 'EdDSA' || alg === 'Ed25519') return verify(null, data, key, signature);
    if (alg === 'ES256') {
      return signature.length === 64 && verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    if (alg === 'PS256') {
      const padding = constants.RSA_PKCS1_PSS_PADDING;
      return verify('sha256', data, { key, padding, saltLength: 32 }, signature);
    }
    return verify('sha256', data, key, signature);
  } catch {
    return false;
  }
}

/** A JWS segment that must decode to a JSON object, or `InvalidDpopProofError` with `reason`. */
export function jsonSegment(segment: string, reason: 'malformed' | 'claims'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidDpopProofError(reason);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidDpopProofError(reason);
  }
  return value as Record<string, unknown>;
}
