import type { DpopRefusalReason, InvalidKeyReason, InvalidTokenReason } from '../errors/index.js';

/** The client that made a request, as far as the trusted-proxy setting lets us know it. */
export interface EventClient {
  ip?: string;
}

/**
 * Who changed a key, as the caller of `ApiKeyService` tells it: the client address and whoever acted (for
 * example the id of the admin key used). Both optional: a change from a script has neither.
 */
export interface ChangeContext extends EventClient {
  actor?: string;
}

/** How a client authenticated: RFC 6749 §2.3.1, RFC 7523 §2.2, or the API key header. */
export type ClientAuthMethod =
  'client_secret_basic' | 'client_secret_post' | 'api_key_header' | 'private_key_jwt';

/**
 * How a request proved itself in an audit event: a client authentication method at the OAuth endpoints, or
 * `dpop` for a DPoP proof (RFC 9449) on a guarded route.
 */
export type AuthMethod = ClientAuthMethod | 'dpop';

/** Why a client assertion (`private_key_jwt`) was refused; audited as `assertion_<reason>`. */
export type AssertionRefusalReason =
  | 'malformed'
  | 'algorithm'
  | 'no_registered_key'
  | 'kid_mismatch'
  | 'signature'
  | 'expired'
  | 'lifetime'
  | 'audience'
  | 'claims'
  | 'replayed';

export type KeybridgeEvent =
  | ({
      type: 'key.created';
      keyId: string;
      subject: string;
      scopes: readonly string[];
      at: Date;
    } & ChangeContext)
  | ({ type: 'key.updated'; keyId: string; changes: readonly string[]; at: Date } & ChangeContext)
  | ({ type: 'key.revoked'; keyId: string; reason: string | null; at: Date } & ChangeContext)
  | ({ type: 'key.rotated'; keyId: string; newKeyId: string; graceEndsAt: Date; at: Date } & ChangeContext)
  | ({ type: 'key.disabled'; keyId: string; at: Date } & ChangeContext)
  | ({ type: 'key.enabled'; keyId: string; at: Date } & ChangeContext)
  | ({
      type: 'auth.failed';
      reason:
        | InvalidKeyReason
        | 'missing_credentials'
        | 'key_in_query'
        | 'insufficient_scope'
        | 'forbidden_ip'
        | 'forbidden_referrer'
        | 'ambiguous_credentials'
        | 'client_id_mismatch'
        | `assertion_${AssertionRefusalReason}`
        | `token_${InvalidTokenReason}`
        | `dpop_${DpopRefusalReason}`;
      keyId?: string;
      /** At the OAuth endpoints: how the client tried to authenticate; `dpop` for a refused DPoP proof. */
      authMethod?: AuthMethod;
      at: Date;
    } & EventClient)
  | ({
      type: 'auth.rate_limited';
      keyId: string;
      limit: 'rate' | 'quota';
      /** Whose limit: the key's own, or its owner's (shared by every key of its subject). */
      scope?: 'key' | 'owner';
      at: Date;
    } & EventClient)
  | ({ type: 'auth.unavailable'; message: string; at: Date } & EventClient)
  | ({ type: 'auth.throttled'; at: Date } & EventClient)
  | ({
      type: 'token.issued';
      keyId: string;
      tokenId: string;
      scopes: readonly string[];
      audience: readonly string[];
      expiresAt: Date;
      grant: 'client_credentials' | 'token_exchange';
      /** How the client authenticated; absent for a token exchange without client authentication. */
      authMethod?: ClientAuthMethod;
      /** `dpop` when the token is bound to the key of the request's DPoP proof (`token_type: DPoP`). */
      binding?: 'dpop';
      at: Date;
    } & EventClient)
  | ({ type: 'token.revoked'; keyId: string; tokenId: string; at: Date } & EventClient);

export type KeybridgeEventType = KeybridgeEvent['type'];

/**
 * Receives every audit event. It is called synchronously on the request path (a returned promise is not
 * awaited; its rejection is logged), so keep it cheap (hand the
 * event to a logger or queue). Events carry key ids and never a key.
 */
export type KeybridgeEventListener = (event: KeybridgeEvent) => unknown;
