import type { MigrationInterface, QueryRunner } from 'typeorm';

const UP: Record<string, string[]> = {
  postgres: [
    `CREATE TABLE "sample_orders" ("id" SERIAL NOT NULL, "item" character varying(200) NOT NULL, "quantity" integer NOT NULL, "placed_by" character varying(200) NOT NULL, "created_at" TIMESTAMP NOT NULL, CONSTRAINT "PK_881094fd848fe6fa015f241a49f" PRIMARY KEY ("id"))`,
    `CREATE INDEX "IDX_sample_orders_placed_by" ON "sample_orders" ("placed_by")`,
  ],
  mysql: [
    'CREATE TABLE `sample_orders` (`id` int NOT NULL AUTO_INCREMENT, `item` varchar(200) NOT NULL, `quantity` int NOT NULL, `placed_by` varchar(200) NOT NULL, `created_at` datetime NOT NULL, INDEX `IDX_sample_orders_placed_by` (`placed_by`), PRIMARY KEY (`id`)) ENGINE=InnoDB',
  ],
  'better-sqlite3': [
    `CREATE TABLE "sample_orders" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "item" varchar(200) NOT NULL, "quantity" integer NOT NULL, "placed_by" varchar(200) NOT NULL, "created_at" datetime NOT NULL)`,
    `CREATE INDEX "IDX_sample_orders_placed_by" ON "sample_orders" ("placed_by")`,
  ],
};

export class CreateSampleOrders1763800000100 implements MigrationInterface {
  name = 'CreateSampleOrders1763800000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const type =
      queryRunner.connection.options.type === 'mariadb' ? 'mysql' : queryRunner.connection.options.type;
    for (const sql of UP[type] ?? []) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE sample_orders');
  }
}
