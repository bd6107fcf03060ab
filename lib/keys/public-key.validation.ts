import { createPublicKey, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto';
import { InvalidArgumentError } from '../errors/index.js';
import type { ClientPublicJwk } from './api-key.entity.js';

const MAX_INPUT_LENGTH = 16_384;
const MIN_RSA_BITS = 2048;
/** JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The JWS algorithms a registered key of each type signs with; Ed25519 also under its fully specified name. */
export function algorithmsOf(jwk: ClientPublicJwk): readonly string[] {
  if (jwk.kty === 'OKP') return ['EdDSA', 'Ed25519'];
  if (jwk.kty === 'EC') return ['ES256'];
  return ['RS256'];
}

/**
 * A client's public key, given as a JWK (object or JSON text) or a PEM `PUBLIC KEY`, normalised to a public
 * JWK with only the members that define the key (and its `kid`). Refuses private keys, symmetric keys, key
 * types other than Ed25519, P-256 and RSA, and RSA keys under 2048 bits. `null` removes the key.
 */
export function validatePublicKey(value: unknown): ClientPublicJwk | null {
  if (value === null) return null;
  const jwk = typeof value === 'string' ? parseText(value) : value;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) {
    throw new InvalidArgumentError('publicKey must be a public JWK, a PEM public key, or null.');
  }
  return fromJwk(jwk as Record<string, unknown>);
}

/** The registered key as a key object for signature checks. */
export function keyObjectOf(jwk: ClientPublicJwk): KeyObject {
  return createPublicKey({ key: jwk as NodeJwk, format: 'jwk' });
}

/** A key that requires proof needs a registered key to prove with; otherwise it could never be used. */
export function checkProofSettings(publicKey: ClientPublicJwk | null, requireProof: boolean): void {
  if (requireProof && !publicKey) {
    throw new InvalidArgumentError('requireProof needs a publicKey: the key alone would open nothing.');
  }
}

function parseText(text: string): unknown {
  if (text.length > MAX_INPUT_LENGTH) throw new InvalidArgumentError('publicKey is too long.');
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      throw new InvalidArgumentError('publicKey is not valid JSON.');
    }
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed)) {
    throw new InvalidArgumentError('publicKey must be a public key: a private key was given.');
  }
  if (!trimmed.startsWith('-----BEGIN PUBLIC KEY-----')) {
    throw new InvalidArgumentError('publicKey must be a JWK or a PEM "PUBLIC KEY".');
  }
  try {
    return createPublicKey({ key: trimmed, format: 'pem' }).export({ format: 'jwk' });
  } catch {
    throw new InvalidArgumentError('publicKey is not a readable PEM public key.');
  }
}

function fromJwk(jwk: Record<string, unknown>): ClientPublicJwk {
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) {
    throw new InvalidArgumentError('publicKey must be a public key: it has private key members.');
  }
  const normalised = pick(jwk);
  let key: KeyObject;
  try {
    key = keyObjectOf(normalised);
  } catch {
    throw new InvalidArgumentError('publicKey is not a valid public JWK.');
  }
  const details = key.asymmetricKeyDetails;
  const type = key.asymmetricKeyType;
  if (type === 'rsa' && (details?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new InvalidArgumentError(`An RSA publicKey must have at least ${MIN_RSA_BITS} bits.`);
  }
  return normalised;
}

/** The members that define a supported key, in a fixed order; anything else is refused. */
function pick(jwk: Record<string, unknown>): ClientPublicJwk {
  const kid = typeof jwk.kid === 'string' && jwk.kid.length <= 200 ? { kid: jwk.kid } : {};
  const text = (name: string) => {
    const member = jwk[name];
    if (typeof member !== 'string' || member === '' || !/^[A-Za-z0-9_-]+$/.test(member)) {
      throw new InvalidArgumentError(`publicKey member "${name}" must be base64url text.`);
    }
    return member;
  };
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return { kty: 'OKP', crv: 'Ed25519', x: text('x'), ...kid };
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    return { kty: 'EC', crv: 'P-256', x: text('x'), y: text('y'), ...kid };
  }
  if (jwk.kty === 'RSA') return { kty: 'RSA', n: text('n'), e: text('e'), ...kid };
  throw new InvalidArgumentError('publicKey must be an Ed25519, P-256 (ES256) or RSA (RS256) key.');
}
