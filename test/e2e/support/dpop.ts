import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, type CryptoKey as JoseKey } from 'jose';

export type ProofAlg = 'EdDSA' | 'Ed25519' | 'ES256' | 'RS256' | 'PS256';

/** A client's DPoP key: the private key that signs proofs and its public JWK. */
export interface DpopKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: Record<string, string>;
  alg: ProofAlg;
}

export function dpopKey(alg: ProofAlg = 'EdDSA'): DpopKey {
  const pair =
    alg === 'EdDSA' || alg === 'Ed25519'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...pair, jwk: pair.publicKey.export({ format: 'jwk' }) as Record<string, string>, alg };
}

/** RFC 7638 thumbprint, computed independently of the library. */
export function thumbprint(jwk: Record<string, string>): string {
  const members =
    jwk.kty === 'OKP' ? ['crv', 'kty', 'x'] : jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n'];
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

/** `ath`: base64url(SHA-256(access token)). */
export function ath(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

export interface ProofSettings {
  htm: string;
  htu: string;
  /** The library's clock, in ms (the tests move it). */
  now: number;
  accessToken?: string;
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
}

/** A DPoP proof as a client signs it, with claims and header changed by the test. */
export function proof(key: DpopKey, settings: ProofSettings): Promise<string> {
  const iat = Math.floor(settings.now / 1000);
  return new SignJWT({
    jti: randomUUID(),
    htm: settings.htm,
    htu: settings.htu,
    iat,
    ...(settings.accessToken ? { ath: ath(settings.accessToken) } : {}),
    ...settings.claims,
  })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...settings.header })
    .sign(key.privateKey as unknown as JoseKey);
}
