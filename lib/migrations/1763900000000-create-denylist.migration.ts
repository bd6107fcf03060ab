import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runStatements } from './migration.dialect.js';

/** Creates `keybridge_denylist`, where revoked tokens and keys wait for their tokens to expire. */
export class CreateKeybridgeDenylist1763900000000 implements MigrationInterface {
  name = 'CreateKeybridgeDenylist1763900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [
        `CREATE TABLE "keybridge_denylist" ("id" character varying(100) NOT NULL, "expires_at" bigint NOT NULL, "created_at" bigint NOT NULL, CONSTRAINT "PK_d5d22efc0f214112e59d8ff41ff" PRIMARY KEY ("id"))`,
        `CREATE INDEX "IDX_keybridge_denylist_expires_at" ON "keybridge_denylist" ("expires_at")`,
        `CREATE INDEX "IDX_keybridge_denylist_created_at" ON "keybridge_denylist" ("created_at")`,
      ],
      mysql: [
        'CREATE TABLE `keybridge_denylist` (`id` varchar(100) NOT NULL, `expires_at` bigint NOT NULL, `created_at` bigint NOT NULL, INDEX `IDX_keybridge_denylist_expires_at` (`expires_at`), INDEX `IDX_keybridge_denylist_created_at` (`created_at`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
      ],
      sqlite: [
        `CREATE TABLE "keybridge_denylist" ("id" varchar(100) PRIMARY KEY NOT NULL, "expires_at" bigint NOT NULL, "created_at" bigint NOT NULL)`,
        `CREATE INDEX "IDX_keybridge_denylist_expires_at" ON "keybridge_denylist" ("expires_at")`,
        `CREATE INDEX "IDX_keybridge_denylist_created_at" ON "keybridge_denylist" ("created_at")`,
      ],
    });
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [
        `DROP INDEX "IDX_keybridge_denylist_created_at"`,
        `DROP INDEX "IDX_keybridge_denylist_expires_at"`,
        `DROP TABLE "keybridge_denylist"`,
      ],
      mysql: ['DROP TABLE `keybridge_denylist`'],
      sqlite: [
        `DROP INDEX "IDX_keybridge_denylist_created_at"`,
        `DROP INDEX "IDX_keybridge_denylist_expires_at"`,
        `DROP TABLE "keybridge_denylist"`,
      ],
    });
  }
}
