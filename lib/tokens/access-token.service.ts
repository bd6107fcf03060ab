import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { jwtVerify } from 'jose';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { isValidScope } from '../scopes/scope.matcher.js';
import { TokenDenylist } from '../denylist/token.denylist.js';
import { InvalidTokenError, type InvalidTokenReason } from '../errors/index.js';
import { looksLikeApiKey } from '../keys/api-key.format.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import { TtlCache } from '../common/ttl.cache.js';
import { signCompactJws } from './jws.signer.js';
import type { SigningKey } from '../interfaces/signing-key.interface.js';
import { KID_PATTERN } from './signing-key.ring.js';
import { VerifiedToken, type AccessTokenClaims } from './verified-token.js';

/** RFC 9068 §2.1: the media type of an access token, in the `typ` header. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
/** Tokens longer than this are refused unread. */
const MAX_TOKEN_LENGTH = 8192;
/** Header parameters that would let a token choose its own verification key, or demand unknown processing. */
const REFUSED_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'crit'];
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const JTI_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const CLIENT_ID_PATTERN = /^key_[0-9A-Za-z]{1,36}$/;
/** The shortest signature segment of the supported algorithms (HS256: 43 base64url characters). */
const MIN_SIGNATURE_LENGTH = 43;

/** What the token endpoint hands back. */
export interface MintedToken {
  accessToken: string;
  /** Seconds until the token expires. */
  expiresIn: number;
  scopes: readonly string[];
  claims: AccessTokenClaims;
}

/**
 * Mints RFC 9068 access tokens and verifies them strictly: the algorithm is pinned per `kid` to the key that
 * signed it (no `none`, no HS/RS confusion), keys offered in the header are refused without any request,
 * `typ`, `iss`, `aud`, `exp` and `nbf` are checked with a small tolerance. Verified tokens are cached until
 * they expire (keyed by a hash of the token); the denylist is checked on every request, cached or not.
 */
@Injectable()
export class AccessTokenService implements OnModuleInit {
  private readonly cache: TtlCache<VerifiedToken> | undefined;
  private readonly toleranceSeconds: number;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    private readonly denylist: TokenDenylist,
  ) {
    const { cacheMax, clockToleranceMs } = options.tokens;
    this.toleranceSeconds = clockToleranceMs / 1000;
    if (cacheMax > 0) this.cache = new TtlCache(cacheMax, options.tokens.ttlMs, options.clock);
  }

  onModuleInit(): void {
    const { enabled, keys } = this.options.tokens;
    if (enabled && keys.ephemeral) {
      new Logger('Keybridge').warn(
        'No signing key configured: tokens are signed with a key generated for this process and stop verifying when it restarts. Set the signing option (required when NODE_ENV=production).',
      );
    }
  }

  /**
   * Signs a token for an authenticated key. It never outlives the key's expiry or rotation deadline. With
   * `jkt`, the token is bound to that DPoP key (`cnf.jkt`, RFC 9449 §6.1).
   */
  async mint(
    key: VerifiedKey,
    scopes: readonly string[],
    audience: readonly string[],
    jkt?: string,
  ): Promise<MintedToken> {
    const { tokens } = this.options;
    const now = this.options.clock();
    const iat = Math.floor(now / 1000);
    const deadline = key.deadlineMs;
    const expMs = deadline === null ? now + tokens.ttlMs : Math.min(now + tokens.ttlMs, deadline);
    const exp = Math.max(iat + 1, Math.floor(expMs / 1000));
    const claims: AccessTokenClaims = {
      iss: tokens.issuer,
      sub: key.principal.subject,
      aud: audience.length === 1 ? audience[0] : [...audience],
      exp,
      iat,
      // 122 random bits from Node's pooled generator.
      jti: randomUUID(),
      client_id: key.id,
      scope: scopes.join(' '),
      ...(jkt === undefined ? {} : { cnf: { jkt } }),
    };
    const signer = tokens.keys.active;
    const accessToken = await signCompactJws(
      { alg: signer.alg, kid: signer.kid, typ: ACCESS_TOKEN_TYPE },
      claims as unknown as Record<string, unknown>,
      signer.alg,
      signer.signingKey!,
    );
    return { accessToken, expiresIn: exp - iat, scopes, claims };
  }

  /**
   * The verified token behind a bearer value, or `InvalidTokenError` with the reason; `AuthUnavailableError`
   * when the denylist cannot vouch for it. Synchronous on a cache hit. `beforeVerify(subject)` runs only
   * when the signature is about to be checked (the failed-authentication throttle). `now` is the request's
   * time when the caller has read it already.
   */
  authenticate<T>(
    token: string,
    beforeVerify?: (subject: T) => void,
    subject?: T,
    now: number = this.options.clock(),
  ): VerifiedToken | Promise<VerifiedToken> {
    // The cache is keyed by the signature segment: unique per token, and useless without the rest, so no
    // usable token sits in memory. A CRC of the whole token tells a token apart from one with the same
    // signature and another header or payload, which then goes through full verification (and fails).
    const cacheKey = this.cache ? token.slice(token.lastIndexOf('.') + 1) : '';
    const cached = cacheKey.length >= MIN_SIGNATURE_LENGTH ? this.cache?.get(cacheKey, now) : undefined;
    if (cached && cached.checksum === crc32(token)) return this.admit(cached, now);
    beforeVerify?.(subject as T);
    return this.verify(token, now).then((verified) => {
      if (cacheKey.length >= MIN_SIGNATURE_LENGTH) {
        verified.checksum = crc32(token);
        this.cache?.set(cacheKey, verified, verified.expiresAtMs + this.options.tokens.clockToleranceMs);
      }
      return this.admit(verified, this.options.clock());
    });
  }

  /** The token if it is valid and not revoked, else `undefined`; for introspection and revocation. */
  async inspect(token: string): Promise<VerifiedToken | undefined> {
    try {
      return await this.authenticate(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) return undefined;
      throw error;
    }
  }

  /** Denies a token until it expires. */
  async revoke(token: VerifiedToken): Promise<void> {
    await this.denylist.revokeToken(token.jti, token.expiresAtMs + this.options.tokens.clockToleranceMs);
  }

  private admit(token: VerifiedToken, now: number): VerifiedToken {
    const refusal = this.denylist.entryRefusal(token.tokenEntry, token.keyEntry, now);
    if (refusal) throw this.refuse(refusal, token.keyId);
    return token;
  }

  private async verify(token: string, now: number): Promise<VerifiedToken> {
    const key = this.keyFor(token);
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key.verificationKey, {
        algorithms: [key.alg],
        typ: ACCESS_TOKEN_TYPE,
        issuer: this.options.tokens.issuer,
        audience: [...this.options.tokens.audiences],
        clockTolerance: this.toleranceSeconds,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'iat', 'sub', 'jti', 'client_id', 'scope'],
      }));
    } catch (error) {
      throw this.refuse(reasonOf(error));
    }
    const claims = payload as unknown as AccessTokenClaims;
    if (
      typeof claims.sub !== 'string' ||
      typeof claims.jti !== 'string' ||
      !JTI_PATTERN.test(claims.jti) ||
      typeof claims.client_id !== 'string' ||
      !CLIENT_ID_PATTERN.test(claims.client_id) ||
      typeof claims.scope !== 'string' ||
      (claims.scope !== '' && !claims.scope.split(' ').every(isValidScope)) ||
      claims.iat > now / 1000 + this.toleranceSeconds ||
      !isConfirmation(claims.cnf)
    ) {
      throw this.refuse('claims');
    }
    return new VerifiedToken(claims);
  }

  /**
   * Reads the protected header without trusting it and picks the configured key its `kid` names. The
   * algorithm must be the one that key is configured for; any header that would bring its own key is refused.
   */
  private keyFor(token: string): SigningKey {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw this.refuse('malformed');
    const { prefixes } = this.options;
    if (looksLikeApiKey(token, prefixes)) throw this.refuse('api_key_as_bearer');
    const parts = token.split('.');
    if (
      parts.length !== 3 ||
      !BASE64URL.test(parts[0]) ||
      !BASE64URL.test(parts[1]) ||
      !BASE64URL.test(parts[2])
    ) {
      throw this.refuse('malformed');
    }
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    } catch {
      throw this.refuse('malformed');
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header))
      throw this.refuse('malformed');
    const fields = header as Record<string, unknown>;
    for (const name of REFUSED_HEADERS) if (Object.hasOwn(fields, name)) throw this.refuse('header');
    if (typeof fields.typ !== 'string' || !isAccessTokenType(fields.typ)) throw this.refuse('header');
    const ring = this.options.tokens.keys;
    if (typeof fields.alg !== 'string' || !ring.algorithms.includes(fields.alg as SigningKey['alg'])) {
      throw this.refuse('algorithm');
    }
    if (typeof fields.kid !== 'string' || !KID_PATTERN.test(fields.kid)) throw this.refuse('kid');
    const key = ring.get(fields.kid);
    if (!key) throw this.refuse('kid');
    if (key.alg !== fields.alg) throw this.refuse('algorithm');
    return key;
  }

  private refuse(reason: InvalidTokenReason, keyId?: string): InvalidTokenError {
    return new InvalidTokenError(reason, this.options.realm, keyId);
  }
}

/** `at+jwt`, or its full media type `application/at+jwt`, in any case (RFC 9068 §4, RFC 7515 §4.1.9). */
function isAccessTokenType(typ: string): boolean {
  const lower = typ.toLowerCase();
  return lower === ACCESS_TOKEN_TYPE || lower === `application/${ACCESS_TOKEN_TYPE}`;
}

/** No `cnf`, or one naming a DPoP key thumbprint (43 base64url characters of a SHA-256). */
function isConfirmation(cnf: unknown): boolean {
  if (cnf === undefined) return true;
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) return false;
  const { jkt } = cnf as { jkt?: unknown };
  return typeof jkt === 'string' && /^[A-Za-z0-9_-]{43}$/.test(jkt);
}

/** The refusal reason for a `jose` verification error. */
function reasonOf(error: unknown): InvalidTokenReason {
  const { code, claim } = (error ?? {}) as { code?: string; claim?: string };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claim === 'nbf' ? 'not_yet_valid' : 'claims';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'algorithm';
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'header';
    default:
      return 'malformed';
  }
}
