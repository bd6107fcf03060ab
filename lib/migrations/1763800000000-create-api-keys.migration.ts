import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runStatements } from './migration.dialect.js';

/** Creates `keybridge_api_keys` exactly as the entity describes it, on each supported dialect. */
export class CreateKeybridgeApiKeys1763800000000 implements MigrationInterface {
  name = 'CreateKeybridgeApiKeys1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [
        `CREATE TABLE "keybridge_api_keys" ("id" character varying(40) NOT NULL, "key_hash" character varying(64) NOT NULL, "hint" character varying(48) NOT NULL, "environment" character varying(8) NOT NULL, "name" character varying(200) NOT NULL, "subject" character varying(200) NOT NULL, "scopes" text NOT NULL, "metadata" text, "allowed_ips" text, "allowed_referrers" text, "rate_limit" text, "remaining" integer, "quota_refill" text, "quota_refilled_at" bigint, "usage_count" bigint NOT NULL DEFAULT '0', "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, "expires_at" bigint, "last_used_at" bigint, "disabled_at" bigint, "revoked_at" bigint, "revoked_reason" character varying(200), "rotated_from_id" character varying(40), "rotated_to_id" character varying(40), "grace_ends_at" bigint, CONSTRAINT "PK_d125ddc2ffab1388cf5cd8bdaa3" PRIMARY KEY ("id"))`,
        `CREATE UNIQUE INDEX "UQ_keybridge_api_keys_key_hash" ON "keybridge_api_keys" ("key_hash")`,
        `CREATE INDEX "IDX_keybridge_api_keys_subject" ON "keybridge_api_keys" ("subject")`,
      ],
      mysql: [
        "CREATE TABLE `keybridge_api_keys` (`id` varchar(40) NOT NULL, `key_hash` varchar(64) NOT NULL, `hint` varchar(48) NOT NULL, `environment` varchar(8) NOT NULL, `name` varchar(200) NOT NULL, `subject` varchar(200) NOT NULL, `scopes` text NOT NULL, `metadata` text NULL, `allowed_ips` text NULL, `allowed_referrers` text NULL, `rate_limit` text NULL, `remaining` int NULL, `quota_refill` text NULL, `quota_refilled_at` bigint NULL, `usage_count` bigint NOT NULL DEFAULT '0', `created_at` bigint NOT NULL, `updated_at` bigint NOT NULL, `expires_at` bigint NULL, `last_used_at` bigint NULL, `disabled_at` bigint NULL, `revoked_at` bigint NULL, `revoked_reason` varchar(200) NULL, `rotated_from_id` varchar(40) NULL, `rotated_to_id` varchar(40) NULL, `grace_ends_at` bigint NULL, UNIQUE INDEX `UQ_keybridge_api_keys_key_hash` (`key_hash`), INDEX `IDX_keybridge_api_keys_subject` (`subject`), PRIMARY KEY (`id`)) ENGINE=InnoDB",
      ],
      sqlite: [
        `CREATE TABLE "keybridge_api_keys" ("id" varchar(40) PRIMARY KEY NOT NULL, "key_hash" varchar(64) NOT NULL, "hint" varchar(48) NOT NULL, "environment" varchar(8) NOT NULL, "name" varchar(200) NOT NULL, "subject" varchar(200) NOT NULL, "scopes" text NOT NULL, "metadata" text, "allowed_ips" text, "allowed_referrers" text, "rate_limit" text, "remaining" integer, "quota_refill" text, "quota_refilled_at" bigint, "usage_count" bigint NOT NULL DEFAULT (0), "created_at" bigint NOT NULL, "updated_at" bigint NOT NULL, "expires_at" bigint, "last_used_at" bigint, "disabled_at" bigint, "revoked_at" bigint, "revoked_reason" varchar(200), "rotated_from_id" varchar(40), "rotated_to_id" varchar(40), "grace_ends_at" bigint)`,
        `CREATE UNIQUE INDEX "UQ_keybridge_api_keys_key_hash" ON "keybridge_api_keys" ("key_hash")`,
        `CREATE INDEX "IDX_keybridge_api_keys_subject" ON "keybridge_api_keys" ("subject")`,
      ],
    });
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, {
      postgres: [
        `DROP INDEX "IDX_keybridge_api_keys_subject"`,
        `DROP INDEX "UQ_keybridge_api_keys_key_hash"`,
        `DROP TABLE "keybridge_api_keys"`,
      ],
      mysql: ['DROP TABLE `keybridge_api_keys`'],
      sqlite: [
        `DROP INDEX "IDX_keybridge_api_keys_subject"`,
        `DROP INDEX "UQ_keybridge_api_keys_key_hash"`,
        `DROP TABLE "keybridge_api_keys"`,
      ],
    });
  }
}
