import { createHmac, createSecretKey, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { SigningKeys } from '../interfaces/signing-key.interface.js';

const STEP_BYTES = 4;
const MAC_BYTES = 16;
const NONCE_LENGTH = Math.ceil(((STEP_BYTES + MAC_BYTES) * 4) / 3);

/**
 * Server nonces for DPoP proofs (RFC 9449 §8, §9) without shared state: a nonce is a time step and an HMAC of
 * it under a secret derived from the active signing key. Every instance with the same signing key makes and
 * accepts the same nonces; the current step's and the previous one's are accepted, so a nonce lives between
 * one and two `lifetimeMs`. Changing the active signing key makes clients fetch a new nonce once.
 */
export class DpopNonces {
  private readonly secret: KeyObject;
  private current: { step: number; nonce: string } = { step: -1, nonce: '' };

  constructor(
    keys: SigningKeys,
    issuer: string,
    private readonly lifetimeMs: number,
  ) {
    const signing = keys.active.signingKey!;
    const material =
      signing.type === 'secret' ? signing.export() : signing.export({ format: 'der', type: 'pkcs8' });
    const derived = hkdfSync('sha256', material, 'nestjs-keybridge dpop nonce', issuer, 32);
    this.secret = createSecretKey(Buffer.from(derived));
  }

  /** The nonce of the current time step, made once per step. */
  issue(now: number): string {
    const step = Math.floor(now / this.lifetimeMs);
    if (this.current.step !== step) this.current = { step, nonce: this.make(step) };
    return this.current.nonce;
  }

  /** `'current'` or `'previous'` for a nonce of this server and one of the two last steps, else `undefined`. */
  check(nonce: unknown, now: number): 'current' | 'previous' | undefined {
    if (typeof nonce !== 'string' || nonce.length !== NONCE_LENGTH) return undefined;
    const bytes = Buffer.from(nonce, 'base64url');
    if (bytes.length !== STEP_BYTES + MAC_BYTES) return undefined;
    const step = bytes.readUInt32BE(0);
    const currentStep = Math.floor(now / this.lifetimeMs);
    if (step !== currentStep && step !== currentStep - 1) return undefined;
    if (!timingSafeEqual(bytes.subarray(STEP_BYTES), this.mac(step))) return undefined;
    return step === currentStep ? 'current' : 'previous';
  }

  private make(step: number): string {
    const bytes = Buffer.alloc(STEP_BYTES);
    bytes.writeUInt32BE(step >>> 0, 0);
    return Buffer.concat([bytes, this.mac(step)]).toString('base64url');
  }

  private mac(step: number): Buffer {
    return createHmac('sha256', this.secret).update(`dpop-nonce:${step}`).digest().subarray(0, MAC_BYTES);
  }
}
