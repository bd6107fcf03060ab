import type { Duration } from '../common/duration.util.js';
import type { InvalidKeyReason } from '../errors/index.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { RateLimitSetting, RateLimitSettings } from '../interfaces/rate-limit.interface.js';
import type { KeyEnvironment } from '../interfaces/key-prefixes.interface.js';
import type { KeyQuotaRefill, KeyRateLimit, ClientPublicJwk } from './api-key.entity.js';

export type ApiKeyStatus = 'active' | 'expired' | 'revoked' | 'disabled';

/** A stored key as the service returns it: everything but the hash. Safe to log and to send to admins. */
export interface ApiKeyView {
  id: string;
  name: string;
  subject: string;
  environment: KeyEnvironment;
  /** Prefix and last four characters, for display. */
  hint: string;
  scopes: string[];
  status: ApiKeyStatus;
  metadata: Record<string, unknown> | null;
  allowedIps: string[] | null;
  allowedReferrers: string[] | null;
  /** The key's single rate limit; `null` when it has none of its own or has named ones. */
  rateLimit: KeyRateLimit | null;
  /** The key's named rate limits, `null` when it has none. */
  rateLimits: Record<string, KeyRateLimit> | null;
  remaining: number | null;
  quotaRefill: KeyQuotaRefill | null;
  usageCount: number;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  disabledAt: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
  rotatedFromId: string | null;
  rotatedToId: string | null;
  graceEndsAt: Date | null;
  /** The registered public key for `private_key_jwt`, as a public JWK. */
  publicKey: ClientPublicJwk | null;
  /** The key alone is refused: its client must sign with `publicKey`. */
  requireProof: boolean;
}

/** A new key: the stored record plus the key itself, which is shown this once and never again. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}

/** The settings of a key that can be given at creation and changed later. */
export interface ApiKeySettings {
  name?: string;
  scopes?: readonly string[];
  metadata?: Record<string, unknown> | null;
  /** When the key stops working; `null` for never. */
  expiresAt?: Date | string | null;
  /** Alternative to `expiresAt`: a duration from now such as `'30d'`. */
  expiresIn?: Duration;
  /** IP addresses and CIDR blocks the key may be used from; `null` or empty for anywhere. */
  allowedIps?: readonly string[] | null;
  /** Host names (`*.example.com`) or origins the key may be used from; `null` or empty for anywhere. */
  allowedReferrers?: readonly string[] | null;
  /** This key's own rate limit; `null` falls back to the module default. */
  rateLimit?: RateLimitSetting | null;
  /** This key's own named rate limits, all applied (in place of `rateLimit`); `null` falls back to the default. */
  rateLimits?: RateLimitSettings | null;
  /** Requests left; `null` for no quota. */
  remaining?: number | null;
  /** Refill the quota to `amount` every `interval`. */
  quotaRefill?: { amount: number; interval: Duration } | null;
  /**
   * The client's public key for `private_key_jwt` (Ed25519, P-256 or RSA ≥ 2048 bits): a public JWK (object or
   * JSON text) or a PEM `PUBLIC KEY`; `null` removes it.
   */
  publicKey?: ClientPublicJwk | Record<string, unknown> | string | null;
  /** Refuse the key alone (at the token endpoint and as the key header): needs a `publicKey`. */
  requireProof?: boolean;
}

export interface CreateApiKeyInput extends ApiKeySettings {
  name: string;
  scopes: readonly string[];
  /** The owner: an app or a team member. Default: the key's own id. */
  subject?: string;
  environment?: KeyEnvironment;
}

export type UpdateApiKeyInput = ApiKeySettings;

/** Options of `ApiKeyService.rotate`. */
export interface RotateApiKeyOptions {
  /** How long the old key keeps working. Default `'24h'`; `0` revokes it (and its tokens) at once. */
  grace?: Duration;
}

export interface ListApiKeysQuery {
  subject?: string;
  /** Include revoked keys. Default false. */
  includeRevoked?: boolean;
  /** Default 100, at most 1000. */
  limit?: number;
  offset?: number;
}

/** The answer of `ApiKeyService.verify()`: never throws for a bad key, says why instead. */
export type VerifyResult =
  | { valid: true; keyId: string; principal: Principal }
  | { valid: false; reason: InvalidKeyReason; keyId?: string };
