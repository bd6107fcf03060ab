import { keyEntryOf, tokenEntryOf } from '../denylist/denylist-entry.ids.js';
import { GrantedScopes } from '../scopes/scope.matcher.js';
import type { TokenPrincipal } from '../interfaces/principal.interface.js';

/** The claims of an access token minted by the module (RFC 9068 §2.2). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope: string;
  /** RFC 9449 §6.1: the token is bound to the DPoP key with this RFC 7638 thumbprint. */
  cnf?: { jkt: string };
}

/** A token whose signature and claims were checked, prepared once per cache fill like `VerifiedKey`. */
export class VerifiedToken {
  readonly principal: TokenPrincipal;
  readonly scopes: GrantedScopes;
  readonly jti: string;
  readonly keyId: string;
  /** `exp` in milliseconds. */
  readonly expiresAtMs: number;
  /** Its own denylist entry and its key's, checked on every request. */
  readonly tokenEntry: string;
  readonly keyEntry: string;
  /** The thumbprint of the DPoP key the token is bound to (`cnf.jkt`), or `undefined` for a bearer token. */
  readonly jkt: string | undefined;
  /** CRC-32 of the token it was verified from, set when it is cached. */
  checksum = 0;

  constructor(readonly claims: Readonly<AccessTokenClaims>) {
    const scopes = claims.scope === '' ? [] : claims.scope.split(' ');
    this.jti = claims.jti;
    this.keyId = claims.client_id;
    this.tokenEntry = tokenEntryOf(claims.jti);
    this.keyEntry = keyEntryOf(claims.client_id);
    this.expiresAtMs = claims.exp * 1000;
    this.jkt = claims.cnf?.jkt;
    this.scopes = new GrantedScopes(scopes);
    this.principal = Object.freeze({
      type: 'access_token' as const,
      keyId: claims.client_id,
      subject: claims.sub,
      scopes: Object.freeze(scopes),
      tokenId: claims.jti,
      audience: Object.freeze(Array.isArray(claims.aud) ? [...claims.aud] : [claims.aud]),
      expiresAt: new Date(this.expiresAtMs),
    });
  }
}
