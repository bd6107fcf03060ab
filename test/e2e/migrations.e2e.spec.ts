import { DataSource, type DataSourceOptions } from 'typeorm';
import { KEYBRIDGE_ENTITIES, KEYBRIDGE_MIGRATIONS } from 'nestjs-keybridge';
import { databaseTargets } from './support/databases.js';

async function options(name: string, url: string): Promise<DataSourceOptions> {
  const common = {
    entities: [...KEYBRIDGE_ENTITIES],
    migrations: [...KEYBRIDGE_MIGRATIONS],
    synchronize: false,
  };
  if (name === 'postgres') return { ...common, type: 'postgres', url };
  if (name === 'mysql') return { ...common, type: (await isMariaDb(url)) ? 'mariadb' : 'mysql', url };
  return { ...common, type: 'better-sqlite3', database: url };
}

/** TypeORM reads column defaults differently on MariaDB; its schema diff is only exact with the right type. */
async function isMariaDb(url: string): Promise<boolean> {
  const probe = new DataSource({ type: 'mysql', url });
  await probe.initialize();
  try {
    const [row] = (await probe.query('SELECT VERSION() AS version')) as { version: string }[];
    return row.version.includes('MariaDB');
  } finally {
    await probe.destroy();
  }
}

/** The shipped migrations build exactly the schema the entities describe: `synchronize` is never needed. */
describe.each(databaseTargets().map((t) => [t.name, t] as const))('migrations on %s', (name, target) => {
  it('create the tables the entities expect, with nothing left to synchronize, and roll back', async () => {
    const dataSource = new DataSource(await options(name, await target.fresh()));
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      expect(applied.map((m) => m.name)).toEqual([
        'CreateKeybridgeApiKeys1763800000000',
        'CreateKeybridgeDenylist1763900000000',
        'AddKeybridgeClientKeys1764000000000',
        'CreateKeybridgeReplay1764100000000',
        'CreateKeybridgeSubjectLimits1764200000000',
      ]);
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);

      const runner = dataSource.createQueryRunner();
      const table = await runner.getTable('keybridge_api_keys');
      expect(table?.indices.find((i) => i.name === 'UQ_keybridge_api_keys_key_hash')?.isUnique).toBe(true);
      const replay = await runner.getTable('keybridge_replay');
      expect(replay?.primaryColumns.map((c) => c.name)).toEqual(['id']);
      expect(replay?.indices.map((i) => i.name)).toContain('IDX_keybridge_replay_expires_at');
      const owners = await runner.getTable('keybridge_subject_limits');
      expect(owners?.primaryColumns.map((c) => c.name)).toEqual(['subject']);
      await runner.release();

      await dataSource.undoLastMigration({ transaction: 'each' });
      expect(await dataSource.createQueryRunner().hasTable('keybridge_subject_limits')).toBe(false);
      await dataSource.undoLastMigration({ transaction: 'each' });
      expect(await dataSource.createQueryRunner().hasTable('keybridge_replay')).toBe(false);

      await dataSource.undoLastMigration({ transaction: 'each' });
      expect(await dataSource.createQueryRunner().hasColumn('keybridge_api_keys', 'public_key')).toBe(false);
      await dataSource.undoLastMigration({ transaction: 'each' });
      expect(await dataSource.createQueryRunner().hasTable('keybridge_denylist')).toBe(false);
      await dataSource.undoLastMigration({ transaction: 'each' });
      expect(await dataSource.createQueryRunner().hasTable('keybridge_api_keys')).toBe(false);
    } finally {
      await dataSource.destroy();
    }
  });
});
