import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../common/column.transformers.js';

export const REPLAY_TABLE = 'keybridge_replay';

/**
 * One accepted one-time identifier, kept until `expiresAt` (epoch ms). The id is a SHA-256 of the client and
 * its `jti`: identifiers are chosen by clients, and nothing of an assertion is stored.
 *
 * @publicApi
 */
@Entity({ name: REPLAY_TABLE })
export class ReplayEntryEntity {
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'PK_keybridge_replay_id' })
  id!: string;

  @Index('IDX_keybridge_replay_expires_at')
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintNumber })
  expiresAt!: number;
}
