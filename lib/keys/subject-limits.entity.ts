import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMilliseconds } from '../common/column.transformers.js';
import type { KeyQuotaRefill, KeyRateLimit } from './api-key.entity.js';

export const SUBJECT_LIMITS_TABLE = 'keybridge_subject_limits';

/**
 * The limits of one owner (a key's `subject`), shared by all of its keys and the tokens minted from them:
 * the same rate-limit and quota columns as a key.
 *
 * @publicApi
 */
@Entity({ name: SUBJECT_LIMITS_TABLE })
export class SubjectLimitsEntity {
  @PrimaryColumn({
    type: 'varchar',
    length: 200,
    primaryKeyConstraintName: 'PK_keybridge_subject_limits_subject',
  })
  subject!: string;

  @Column({ name: 'rate_limit', type: 'simple-json', nullable: true })
  rateLimit!: KeyRateLimit | null;

  /** Requests left in the owner's quota; `null` means no quota. */
  @Column({ type: 'integer', nullable: true })
  remaining!: number | null;

  @Column({ name: 'quota_refill', type: 'simple-json', nullable: true })
  quotaRefill!: KeyQuotaRefill | null;

  @Column({ name: 'quota_refilled_at', type: 'bigint', nullable: true, transformer: epochMilliseconds })
  quotaRefilledAt!: Date | null;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMilliseconds })
  updatedAt!: Date;
}
