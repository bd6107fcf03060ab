import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../common/column.transformers.js';

export const DENYLIST_TABLE = 'keybridge_denylist';

/**
 * One revocation: `token:<jti>` or `key:<keyId>`, kept until `expiresAt` (epoch ms), when every token it
 * concerns has expired by itself. `createdAt` (epoch ms, the writer's clock) lets instances read only what is new.
 *
 * @publicApi
 */
@Entity({ name: DENYLIST_TABLE })
export class DenylistEntryEntity {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  id!: string;

  @Index('IDX_keybridge_denylist_expires_at')
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintNumber })
  expiresAt!: number;

  @Index('IDX_keybridge_denylist_created_at')
  @Column({ name: 'created_at', type: 'bigint', transformer: bigintNumber })
  createdAt!: number;
}
