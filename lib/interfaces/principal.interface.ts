import type { KeyEnvironment } from './key-prefixes.interface.js';

interface PrincipalBase {
  /** The id of the API key (also its OAuth `client_id`); for a token, the key it was minted from. */
  readonly keyId: string;
  /** The owner of the key: an app or a team member. */
  readonly subject: string;
  /** What the caller may do: the key's scopes, or the (possibly narrower) scopes of the token. */
  readonly scopes: readonly string[];
}

/** A caller that presented an API key. */
export interface ApiKeyPrincipal extends PrincipalBase {
  readonly type: 'api_key';
  readonly name: string;
  readonly environment: KeyEnvironment;
  readonly metadata: Readonly<Record<string, unknown>> | null;
}

/** A caller that presented an access token minted by the token endpoint. */
export interface TokenPrincipal extends PrincipalBase {
  readonly type: 'access_token';
  /** The token's `jti`. */
  readonly tokenId: string;
  readonly audience: readonly string[];
  readonly expiresAt: Date;
}

/**
 * Who made the request, as the guards attach it to `request.user`; read it with `@CurrentPrincipal()`.
 * `type` tells which credential was presented.
 */
export type Principal = ApiKeyPrincipal | TokenPrincipal;
