import { createHmac, sign, type KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '../interfaces/signing-key.interface.js';

/**
 * Signs a compact JWS (RFC 7515) with Node's crypto, off the event loop for the asymmetric algorithms.
 * Tokens are verified with `jose`; signing directly saves the WebCrypto round trip on every minted token.
 */
export function signCompactJws(
  header: Readonly<Record<string, unknown>>,
  payload: Readonly<Record<string, unknown>>,
  alg: SigningAlgorithm,
  key: KeyObject,
): Promise<string> {
  const input = `${encode(header)}.${encode(payload)}`;
  if (alg === 'HS256') {
    return Promise.resolve(`${input}.${createHmac('sha256', key).update(input).digest('base64url')}`);
  }
  const data = Buffer.from(input, 'utf8');
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, signature: Buffer) =>
      error ? reject(error) : resolve(`${input}.${signature.toString('base64url')}`);
    if (alg === 'EdDSA') sign(null, data, key, done);
    // ES256 signatures are the raw r || s pair (RFC 7518 §3.4), not DER.
    else if (alg === 'ES256') sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, done);
    else sign('sha256', data, key, done);
  });
}

function encode(value: Readonly<Record<string, unknown>>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}
