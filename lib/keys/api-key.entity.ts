import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber, epochMilliseconds } from '../common/column.transformers.js';
import type { KeyEnvironment } from '../interfaces/key-prefixes.interface.js';
import type { LimitPolicy } from '../interfaces/rate-limit.interface.js';

export const API_KEY_TABLE = 'keybridge_api_keys';

/** A per-key rate limit: at most `limit` units in any interval of `windowSeconds`. */
export interface KeyRateLimit {
  limit: number;
  windowSeconds: number;
  /** Absent for `sliding`. */
  policy?: LimitPolicy;
}

/** Several named limits of a key, as the `rate_limit` column holds them beside the single `KeyRateLimit`. */
export interface KeyNamedRateLimits {
  limits: Record<string, KeyRateLimit>;
}

/** A quota refilled to `amount` every `intervalSeconds`. */
export interface KeyQuotaRefill {
  amount: number;
  intervalSeconds: number;
}

/**
 * A client's public JSON Web Key (RFC 7517): OKP Ed25519, EC P-256 or RSA, without private members.
 *
 * @publicApi
 */
export interface ClientPublicJwk {
  kty: 'OKP' | 'EC' | 'RSA';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  kid?: string;
}

/**
 * One API key as stored. The key itself is never stored: `keyHash` is its HMAC-SHA-256 under the pepper.
 * Every column has an explicit type so the same entity maps onto PostgreSQL, MySQL/MariaDB and SQLite.
 * Instants are `Date`s in code and UTC epoch milliseconds in the table.
 *
 * @publicApi
 */
@Entity({ name: API_KEY_TABLE })
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @Index('UQ_keybridge_api_keys_key_hash', { unique: true })
  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash!: string;

  @Column({ type: 'varchar', length: 48 })
  hint!: string;

  @Column({ type: 'varchar', length: 8 })
  environment!: KeyEnvironment;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Index('IDX_keybridge_api_keys_subject')
  @Column({ type: 'varchar', length: 200 })
  subject!: string;

  @Column({ type: 'simple-json' })
  scopes!: string[];

  @Column({ type: 'simple-json', nullable: true })
  metadata!: Record<string, unknown> | null;

  @Column({ name: 'allowed_ips', type: 'simple-json', nullable: true })
  allowedIps!: string[] | null;

  @Column({ name: 'allowed_referrers', type: 'simple-json', nullable: true })
  allowedReferrers!: string[] | null;

  /** One limit (`{ limit, windowSeconds }`), or named ones (`{ limits: { burst: … } }`): no migration needed. */
  @Column({ name: 'rate_limit', type: 'simple-json', nullable: true })
  rateLimit!: KeyRateLimit | KeyNamedRateLimits | null;

  /** Requests left in the quota; `null` means no quota. */
  @Column({ type: 'integer', nullable: true })
  remaining!: number | null;

  @Column({ name: 'quota_refill', type: 'simple-json', nullable: true })
  quotaRefill!: KeyQuotaRefill | null;

  @Column({ name: 'quota_refilled_at', type: 'bigint', nullable: true, transformer: epochMilliseconds })
  quotaRefilledAt!: Date | null;

  @Column({ name: 'usage_count', type: 'bigint', default: 0, transformer: bigintNumber })
  usageCount!: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMilliseconds })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMilliseconds })
  updatedAt!: Date;

  @Column({ name: 'expires_at', type: 'bigint', nullable: true, transformer: epochMilliseconds })
  expiresAt!: Date | null;

  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, transformer: epochMilliseconds })
  lastUsedAt!: Date | null;

  @Column({ name: 'disabled_at', type: 'bigint', nullable: true, transformer: epochMilliseconds })
  disabledAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: epochMilliseconds })
  revokedAt!: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 200, nullable: true })
  revokedReason!: string | null;

  /** The key this one replaced in a rotation. */
  @Column({ name: 'rotated_from_id', type: 'varchar', length: 40, nullable: true })
  rotatedFromId!: string | null;

  /** The key that replaced this one in a rotation. */
  @Column({ name: 'rotated_to_id', type: 'varchar', length: 40, nullable: true })
  rotatedToId!: string | null;

  /** When a rotated key stops working; until then the old key and its replacement both work. */
  @Column({ name: 'grace_ends_at', type: 'bigint', nullable: true, transformer: epochMilliseconds })
  graceEndsAt!: Date | null;

  /** The client's registered public key (a public JWK) for `private_key_jwt`; `null` for none. */
  @Column({ name: 'public_key', type: 'simple-json', nullable: true })
  publicKey!: ClientPublicJwk | null;

  /** The key alone opens nothing: its client must prove possession of `publicKey`. */
  @Column({ name: 'require_proof', type: 'boolean', default: false })
  requireProof!: boolean;
}
