import type { JsonWebKey, KeyObject } from 'node:crypto';

/** The JWS algorithms tokens can be signed with (RFC 7518, RFC 8037). */
export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';

/**
 * One signing key. An asymmetric key is given as `privateKey` (PEM — PKCS#8, SEC1 or PKCS#1 — a private JWK
 * as an object or JSON text, or a `KeyObject`); a key that only verifies the tokens it signed before a
 * rotation may be given as `publicKey` alone. HS256 takes a `secret` of at least 32 bytes.
 */
export interface SigningKeyOption {
  alg: SigningAlgorithm;
  privateKey?: string | JsonWebKey | KeyObject;
  publicKey?: string | JsonWebKey | KeyObject;
  secret?: string | Uint8Array;
  /** Key id in the token header and the JWKS. Default: the RFC 7638 thumbprint of the key. */
  kid?: string;
}

/** A public JWK as published in the JWKS: public members only. */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** A signing key ready for use: the key objects are built once at boot. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Absent for a verify-only key. */
  readonly signingKey: KeyObject | undefined;
  readonly verificationKey: KeyObject;
  /** Absent for HS256: a shared secret is never published. */
  readonly publicJwk: PublicJwk | undefined;
}

/** The configured signing keys, as the rest of the module sees them. */
export interface SigningKeys {
  /** The key that signs new tokens. */
  readonly active: SigningKey;
  readonly algorithms: readonly SigningAlgorithm[];
  /** True when no key was configured and one was generated for this process only (development). */
  readonly ephemeral: boolean;
  get(kid: string): SigningKey | undefined;
  /** The JWK Set published at the JWKS endpoint: public keys only, never an HMAC secret. */
  jwks(): { keys: PublicJwk[] };
}
