import { hash } from 'node:crypto';

/** The members of a public JWK that define it (RFC 7638 §3.2), in lexicographic order, per key type. */
const REQUIRED_MEMBERS: Record<string, readonly string[]> = {
  OKP: ['crv', 'kty', 'x'],
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
};

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK, base64url: what `cnf.jkt` names (RFC 9449 §6.1).
 * `undefined` for a key type without a thumbprint rule here, or a member that is not a string.
 */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const members = typeof jwk.kty === 'string' ? REQUIRED_MEMBERS[jwk.kty] : undefined;
  if (!members) return undefined;
  const canonical: Record<string, string> = {};
  for (const name of members) {
    const value = jwk[name];
    if (typeof value !== 'string') return undefined;
    canonical[name] = value;
  }
  return hash('sha256', JSON.stringify(canonical), 'base64url');
}

const registered = new WeakMap<object, string | undefined>();

/** The thumbprint of a key's registered public key, computed once per stored key object. */
export function registeredThumbprint(publicKey: object | null): string | undefined {
  if (!publicKey) return undefined;
  if (!registered.has(publicKey))
    registered.set(publicKey, jwkThumbprint(publicKey as Record<string, unknown>));
  return registered.get(publicKey);
}
