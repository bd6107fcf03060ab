import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runStatements } from './migration.dialect.js';

/** Creates `keybridge_replay`, where each accepted client-assertion `jti` waits for its assertion to expire. */
export class CreateKeybridgeReplay1764100000000 implements MigrationInterface {
  name = 'CreateKeybridgeReplay1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [
        `CREATE TABLE "keybridge_replay" ("id" character varying(64) NOT NULL, "expires_at" bigint NOT NULL, CONSTRAINT "PK_keybridge_replay_id" PRIMARY KEY ("id"))`,
        `CREATE INDEX "IDX_keybridge_replay_expires_at" ON "keybridge_replay" ("expires_at")`,
      ],
      mysql: [
        'CREATE TABLE `keybridge_replay` (`id` varchar(64) NOT NULL, `expires_at` bigint NOT NULL, INDEX `IDX_keybridge_replay_expires_at` (`expires_at`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
      ],
      sqlite: [
        `CREATE TABLE "keybridge_replay" ("id" varchar(64) PRIMARY KEY NOT NULL, "expires_at" bigint NOT NULL)`,
        `CREATE INDEX "IDX_keybridge_replay_expires_at" ON "keybridge_replay" ("expires_at")`,
      ],
    });
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [`DROP INDEX "IDX_keybridge_replay_expires_at"`, `DROP TABLE "keybridge_replay"`],
      mysql: ['DROP TABLE `keybridge_replay`'],
      sqlite: [`DROP INDEX "IDX_keybridge_replay_expires_at"`, `DROP TABLE "keybridge_replay"`],
    });
  }
}
