import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { DataSource, type QueryRunner } from 'typeorm';
import { startApp, type RunningApp } from './support/app-starter.js';
import { TABLES } from './support/databases.js';

const postgresUrl = process.env.TEST_POSTGRES_URL;
const describeOnPostgres = postgresUrl ? describe : describe.skip;

/** The app's sessions give up waiting for a lock after this long, with SQLSTATE 55P03. */
const LOCK_TIMEOUT_MS = 400;

interface Waiter {
  pid: number;
  started: string;
}

/**
 * A key read that the database refuses transiently is run once more before failing closed. Another session
 * holds an exclusive lock on the key table, and the app's sessions run with a `lock_timeout`: the first read
 * is refused by PostgreSQL with 55P03 (lock not available). The lock is released only once a second read is
 * seen waiting, so the request succeeds only if the library retried.
 */
describeOnPostgres('a key read refused by a lock timeout (postgres)', () => {
  let running: RunningApp;
  let admin: DataSource;

  beforeAll(async () => {
    admin = new DataSource({ type: 'postgres', url: postgresUrl });
    await admin.initialize();
    for (const table of TABLES) await admin.query(`DROP TABLE IF EXISTS ${table}`);
    const separator = postgresUrl!.includes('?') ? '&' : '?';
    const url = `${postgresUrl}${separator}options=${encodeURIComponent(`-c lock_timeout=${LOCK_TIMEOUT_MS}`)}`;
    running = await startApp('express', url, { storeTimeout: '5s' });
  });

  afterAll(async () => {
    await running?.close();
    await admin?.destroy();
  });

  /** Sessions of the app waiting for a lock on a key read, oldest first. */
  async function waitingReads(): Promise<Waiter[]> {
    const rows = (await admin.query(
      `SELECT pid, query_start::text AS started FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%WHERE "key_hash" =%'
        ORDER BY query_start`,
    )) as Waiter[];
    return rows;
  }

  /** Polls until `found` says yes or the request answers first. */
  async function whileUnanswered(
    answered: { done: boolean },
    found: () => Promise<boolean>,
  ): Promise<boolean> {
    while (!answered.done) {
      if (await found()) return true;
      await sleep(20);
    }
    return false;
  }

  async function lockKeyTable(): Promise<QueryRunner> {
    const holder = admin.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query('LOCK TABLE keybridge_api_keys IN ACCESS EXCLUSIVE MODE');
    return holder;
  }

  it('retries once and answers 200 when the second read gets through', async () => {
    const key = await running.keys.create({ name: 'retried', scopes: ['orders:read'] });
    const holder = await lockKeyTable();
    const answered = { done: false };
    const response = request(running.url)
      .get('/orders')
      .set('X-API-Key', key.key)
      .then((res) => ((answered.done = true), res));
    try {
      let first: Waiter | undefined;
      const sawFirst = await whileUnanswered(answered, async () => {
        first = (await waitingReads())[0];
        return first !== undefined;
      });
      expect(sawFirst).toBe(true);
      // The first read times out on the lock; the retry is a new statement, waiting in its turn.
      const sawRetry = await whileUnanswered(answered, async () =>
        (await waitingReads()).some((w) => w.pid !== first!.pid || w.started !== first!.started),
      );
      expect(sawRetry).toBe(true);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    expect((await response).status).toBe(200);
  });

  it('fails closed with 503 when the retry is refused too', async () => {
    const key = await running.keys.create({ name: 'refused twice', scopes: ['orders:read'] });
    const holder = await lockKeyTable();
    try {
      const res = await request(running.url).get('/orders').set('X-API-Key', key.key);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ statusCode: 503, code: 'auth_unavailable' });
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    await request(running.url).get('/orders').set('X-API-Key', key.key).expect(200);
  });
});
