import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runStatements } from './migration.dialect.js';

/** Adds a key's registered public key (`private_key_jwt`) and whether its secret alone is refused. */
export class AddKeybridgeClientKeys1764000000000 implements MigrationInterface {
  name = 'AddKeybridgeClientKeys1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [
        `ALTER TABLE "keybridge_api_keys" ADD "public_key" text`,
        `ALTER TABLE "keybridge_api_keys" ADD "require_proof" boolean NOT NULL DEFAULT false`,
      ],
      mysql: [
        'ALTER TABLE `keybridge_api_keys` ADD `public_key` text NULL',
        'ALTER TABLE `keybridge_api_keys` ADD `require_proof` tinyint NOT NULL DEFAULT 0',
      ],
      sqlite: [
        `ALTER TABLE "keybridge_api_keys" ADD COLUMN "public_key" text`,
        `ALTER TABLE "keybridge_api_keys" ADD COLUMN "require_proof" boolean NOT NULL DEFAULT (0)`,
      ],
    });
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [
        `ALTER TABLE "keybridge_api_keys" DROP COLUMN "require_proof"`,
        `ALTER TABLE "keybridge_api_keys" DROP COLUMN "public_key"`,
      ],
      mysql: [
        'ALTER TABLE `keybridge_api_keys` DROP COLUMN `require_proof`',
        'ALTER TABLE `keybridge_api_keys` DROP COLUMN `public_key`',
      ],
      sqlite: [
        `ALTER TABLE "keybridge_api_keys" DROP COLUMN "require_proof"`,
        `ALTER TABLE "keybridge_api_keys" DROP COLUMN "public_key"`,
      ],
    });
  }
}
