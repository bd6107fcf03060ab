import type { Repository } from 'typeorm';
import type { ApiKeyEntity } from './api-key.entity.js';

/**
 * The cache-miss read: one statement by the unique index on `key_hash`, written once at start-up. Building
 * the same query through `findOneBy` on every miss costs TypeORM more time than the database spends
 * answering it. Rows are hydrated with the driver's own conversions, transformers included.
 */
export class KeyHashLookup {
  private readonly sql: string;

  constructor(private readonly repository: Repository<ApiKeyEntity>) {
    const { driver } = repository.manager.connection;
    const { columns, tablePath } = repository.metadata;
    const table = tablePath
      .split('.')
      .map((part) => driver.escape(part))
      .join('.');
    const select = columns.map((column) => driver.escape(column.databaseName)).join(', ');
    const placeholder = driver.options.type === 'postgres' ? '$1' : '?';
    this.sql = `SELECT ${select} FROM ${table} WHERE ${driver.escape('key_hash')} = ${placeholder}`;
  }

  async find(keyHash: string): Promise<ApiKeyEntity | null> {
    const rows = (await this.repository.query(this.sql, [keyHash])) as Record<string, unknown>[];
    if (rows.length === 0) return null;
    const { driver } = this.repository.manager.connection;
    const entity = this.repository.create();
    for (const column of this.repository.metadata.columns) {
      column.setEntityValue(entity, driver.prepareHydratedValue(rows[0][column.databaseName], column));
    }
    return entity;
  }
}
