import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runStatements } from './migration.dialect.js';

/** Creates `keybridge_subject_limits`: the rate limit and quota an owner's keys share. */
export class CreateKeybridgeSubjectLimits1764200000000 implements MigrationInterface {
  name = 'CreateKeybridgeSubjectLimits1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [
        `CREATE TABLE "keybridge_subject_limits" ("subject" character varying(200) NOT NULL, "rate_limit" text, "remaining" integer, "quota_refill" text, "quota_refilled_at" bigint, "updated_at" bigint NOT NULL, CONSTRAINT "PK_keybridge_subject_limits_subject" PRIMARY KEY ("subject"))`,
      ],
      mysql: [
        'CREATE TABLE `keybridge_subject_limits` (`subject` varchar(200) NOT NULL, `rate_limit` text NULL, `remaining` int NULL, `quota_refill` text NULL, `quota_refilled_at` bigint NULL, `updated_at` bigint NOT NULL, PRIMARY KEY (`subject`)) ENGINE=InnoDB',
      ],
      sqlite: [
        `CREATE TABLE "keybridge_subject_limits" ("subject" varchar(200) PRIMARY KEY NOT NULL, "rate_limit" text, "remaining" integer, "quota_refill" text, "quota_refilled_at" bigint, "updated_at" bigint NOT NULL)`,
      ],
    });
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [`DROP TABLE "keybridge_subject_limits"`],
      mysql: ['DROP TABLE `keybridge_subject_limits`'],
      sqlite: [`DROP TABLE "keybridge_subject_limits"`],
    });
  }
}
