/** DPoP proofs as a client makes them, one per request, for the `dpop` route (and its server checks). */
import { generateKeyPairSync, hash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { BENCH_ISSUER } from './bench.config.js';

/** The client's Ed25519 key, the proof header it repeats, and the URL its proofs name. */
export interface DpopClient {
  privateKey: KeyObject;
  /** The encoded protected header (`typ`, `alg`, public `jwk`), the same on every proof. */
  header: string;
}

export function dpopClient(): DpopClient {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'EdDSA', jwk })).toString('base64url');
  return { privateKey, header };
}

/** The `htu` of a path on the bench server: the issuer's origin, as the server derives it. */
export function htuOf(path: string): string {
  return `${BENCH_ISSUER}${path}`;
}

let counter = 0;
const runPrefix = randomBytes(6).toString('base64url');

/** A fresh proof: a new `jti`, `iat` now, and `ath` for the token when one is presented. */
export function makeProof(client: DpopClient, htm: string, htu: string, accessToken?: string): string {
  const claims = {
    jti: `${runPrefix}${(counter++).toString(36)}`,
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    ...(accessToken === undefined ? {} : { ath: hash('sha256', accessToken, 'base64url') }),
  };
  const input = `${client.header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign(null, Buffer.from(input), client.privateKey).toString('base64url')}`;
}
