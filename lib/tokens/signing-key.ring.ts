import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import type {
  PublicJwk,
  SigningAlgorithm,
  SigningKey,
  SigningKeyOption,
  SigningKeys,
} from '../interfaces/signing-key.interface.js';

/** The JWS algorithms tokens can be signed with, in the order the options list them. */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256', 'HS256'];

/** `kid` values accepted in configuration and in token headers. */
export const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const MIN_HMAC_BYTES = 32;
const MIN_RSA_BITS = 2048;

/** What a key of each algorithm must be: Node's key type and, for EC, the curve. */
const KEY_TYPES: Record<
  Exclude<SigningAlgorithm, 'HS256'>,
  { type: string; curve?: string; name: string }
> = {
  EdDSA: { type: 'ed25519', name: 'an Ed25519 key' },
  ES256: { type: 'ec', curve: 'prime256v1', name: 'an EC P-256 key' },
  RS256: { type: 'rsa', name: 'an RSA key' },
};

/**
 * The configured signing keys: the first signs new tokens; every key verifies the tokens it signed, so the
 * active key can be replaced while tokens signed by the previous one are still valid.
 */
export class SigningKeyRing implements SigningKeys {
  readonly active: SigningKey;
  private readonly byKid: ReadonlyMap<string, SigningKey>;
  readonly algorithms: readonly SigningAlgorithm[];

  constructor(
    readonly keys: readonly SigningKey[],
    /** True when no key was configured and one was generated for this process only (development). */
    readonly ephemeral = false,
  ) {
    this.active = keys[0];
    this.byKid = new Map(keys.map((key) => [key.kid, key]));
    this.algorithms = [...new Set(keys.map((key) => key.alg))];
  }

  get(kid: string): SigningKey | undefined {
    return this.byKid.get(kid);
  }

  /** The JWK Set published at the JWKS endpoint: public keys only, never an HMAC secret. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: this.keys.flatMap((key) => (key.publicJwk ? [key.publicJwk] : [])) };
  }
}

/** A fresh Ed25519 key for one process, used in development when no signing key is configured. */
export function ephemeralKeyRing(): SigningKeyRing {
  const { privateKey } = generateKeyPairSync('ed25519');
  return new SigningKeyRing([signingKeyOf({ alg: 'EdDSA', privateKey }, 'signing')], true);
}

/**
 * Reads the configured keys; every problem found is pushed to `problems` (no key material is ever quoted).
 * Returns `undefined` when any key is unusable.
 */
export function readSigningKeys(
  option: SigningKeyOption | readonly SigningKeyOption[],
  problems: string[],
): SigningKeyRing | undefined {
  const list = Array.isArray(option) ? option : [option as SigningKeyOption];
  if (list.length === 0) {
    problems.push('signing must be a key or a non-empty list of keys; the first one signs.');
    return undefined;
  }
  const keys: SigningKey[] = [];
  const before = problems.length;
  list.forEach((entry, index) => {
    const name = Array.isArray(option) ? `signing[${index}]` : 'signing';
    try {
      const key = signingKeyOf(entry, name);
      if (index === 0 && !key.signingKey) {
        problems.push(`${name} is the active key and must be able to sign: give its privateKey or secret.`);
      }
      if (keys.some((k) => k.kid === key.kid)) problems.push(`${name}.kid "${key.kid}" is used twice.`);
      keys.push(key);
    } catch (error) {
      problems.push((error as Error).message);
    }
  });
  return problems.length === before ? new SigningKeyRing(keys) : undefined;
}

/** Builds one key, or throws an `Error` whose message says what to change. */
function signingKeyOf(option: SigningKeyOption, name: string): SigningKey {
  if (option === null || typeof option !== 'object')
    throw new Error(`${name} must be an object with an alg.`);
  const { alg } = option;
  if (!SIGNING_ALGORITHMS.includes(alg)) {
    // Quoted only when it looks like a name: a key pasted into the wrong variable must not reach the log.
    const got =
      typeof alg === 'string' && /^[A-Za-z0-9]{1,16}$/.test(alg) ? JSON.stringify(alg) : 'another value';
    throw new Error(`${name}.alg must be one of ${SIGNING_ALGORITHMS.join(', ')}, got ${got}.`);
  }
  if (option.kid !== undefined && (typeof option.kid !== 'string' || !KID_PATTERN.test(option.kid))) {
    throw new Error(`${name}.kid must be 1 to 64 letters, digits, ".", "_" or "-".`);
  }
  return alg === 'HS256' ? hmacKeyOf(option, name) : asymmetricKeyOf(option, alg, name);
}

function hmacKeyOf(option: SigningKeyOption, name: string): SigningKey {
  if (option.privateKey !== undefined || option.publicKey !== undefined) {
    throw new Error(`${name}: HS256 takes a secret, not a privateKey or publicKey.`);
  }
  const secret = option.secret;
  const bytes =
    typeof secret === 'string'
      ? Buffer.from(secret, 'utf8')
      : secret instanceof Uint8Array
        ? secret
        : undefined;
  if (!bytes || bytes.length < MIN_HMAC_BYTES) {
    throw new Error(
      `${name}.secret must be at least ${MIN_HMAC_BYTES} bytes for HS256 (RFC 7518 §3.2); generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
    );
  }
  const key = createSecretKey(Buffer.from(bytes));
  const kid = option.kid ?? thumbprint({ k: key.export().toString('base64url'), kty: 'oct' });
  return { kid, alg: 'HS256', signingKey: key, verificationKey: key, publicJwk: undefined };
}

function asymmetricKeyOf(
  option: SigningKeyOption,
  alg: Exclude<SigningAlgorithm, 'HS256'>,
  name: string,
): SigningKey {
  if (option.secret !== undefined) throw new Error(`${name}: ${alg} takes a privateKey, not a secret.`);
  const expected = KEY_TYPES[alg];
  let signingKey: KeyObject | undefined;
  let verificationKey: KeyObject;
  if (option.privateKey !== undefined) {
    signingKey = readKey(option.privateKey, 'private', `${name}.privateKey`, alg);
    verificationKey = createPublicKey(signingKey);
  } else if (option.publicKey !== undefined) {
    verificationKey = readKey(option.publicKey, 'public', `${name}.publicKey`, alg);
  } else {
    throw new Error(`${name} needs a privateKey (or, for a key that only verifies, a publicKey).`);
  }
  const details = verificationKey.asymmetricKeyDetails;
  if (
    verificationKey.asymmetricKeyType !== expected.type ||
    (expected.curve !== undefined && details?.namedCurve !== expected.curve)
  ) {
    throw new Error(`${name} must be ${expected.name} for ${alg}.`);
  }
  if (alg === 'RS256' && (details?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new Error(
      `${name} is an RSA key of ${details?.modulusLength} bits; RS256 needs at least ${MIN_RSA_BITS}.`,
    );
  }
  const jwk = verificationKey.export({ format: 'jwk' }) as Record<string, string>;
  const members = publicMembers(jwk);
  const kid = option.kid ?? thumbprint(members);
  return {
    kid,
    alg,
    signingKey,
    verificationKey,
    publicJwk: { ...members, kid, alg, use: 'sig' } as PublicJwk,
  };
}

function readKey(
  value: string | JsonWebKey | KeyObject,
  kind: 'private' | 'public',
  name: string,
  alg: SigningAlgorithm,
): KeyObject {
  try {
    if (typeof value === 'object' && value !== null && 'asymmetricKeyType' in value && 'export' in value) {
      const key = value as KeyObject;
      if (key.type !== kind) throw new Error('wrong kind');
      return key;
    }
    const text = typeof value === 'string' ? value.trim() : undefined;
    if (text !== undefined && !text.startsWith('{')) {
      return kind === 'private' ? createPrivateKey(text) : createPublicKey(text);
    }
    const jwk = (text !== undefined ? JSON.parse(text) : value) as JsonWebKey;
    return kind === 'private'
      ? createPrivateKey({ key: jwk, format: 'jwk' })
      : createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    // The key itself is never quoted: the message may end up in a deployment log.
    throw new Error(`${name} could not be read as a ${kind} ${alg} key (PEM, JWK or KeyObject).`);
  }
}

/** The public members of a JWK, per key type (RFC 7517, RFC 7518 §6, RFC 8037). */
function publicMembers(jwk: Record<string, string>): Record<string, string> {
  switch (jwk.kty) {
    case 'OKP':
      return { kty: 'OKP', crv: jwk.crv, x: jwk.x };
    case 'EC':
      return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
    default:
      return { kty: 'RSA', n: jwk.n, e: jwk.e };
  }
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, base64url. */
function thumbprint(members: Record<string, string>): string {
  const required: Record<string, string[]> = {
    OKP: ['crv', 'kty', 'x'],
    EC: ['crv', 'kty', 'x', 'y'],
    RSA: ['e', 'kty', 'n'],
    oct: ['k', 'kty'],
  };
  const canonical = JSON.stringify(
    Object.fromEntries(required[members.kty].map((name) => [name, members[name]])),
  );
  return createHash('sha256').update(canonical).digest('base64url');
}
