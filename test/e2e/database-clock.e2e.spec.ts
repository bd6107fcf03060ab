import { getDataSourceToken } from '@nestjs/typeorm';
import type { CreatedApiKey } from 'nestjs-keybridge';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { databaseTargets } from './support/databases.js';
import { clientCredentials, mintToken } from './support/oauth.js';
import { startApp, type RunningApp } from './support/app-starter.js';

/** How far each instance's clock is off. */
const SKEW_MS = 90_000;
/**
 * How far from the database's "now" the deadlines are set. Judged by the database's clock, the answers
 * below hold as long as the measured offset is within this of the true one (it is within half a read's round
 * trip) and the test takes less than this between writing a deadline and reading it.
 */
const MARGIN_MS = 30_000;

const DATABASE_NOW_MS = {
  postgres: '(extract(epoch from clock_timestamp()) * 1000)::bigint',
  mysql: 'ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000)',
  sqlite: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
};

/**
 * Instances judge key deadlines by the database's clock, read with the key, not by their own: one whose clock
 * runs 90 s behind refuses a key the database says has expired, and one 90 s ahead accepts a key the
 * database says has 30 s left.
 */
describe.each(databaseTargets().map((t) => [t.name, t] as const))(
  'deadlines in database time (%s)',
  (name, target) => {
    let behind: RunningApp;
    let ahead: RunningApp;
    let dataSource: DataSource;

    beforeAll(async () => {
      const url = await target.fresh();
      behind = await startApp('express', url, { clock: () => Date.now() - SKEW_MS });
      ahead = await startApp('express', url, { clock: () => Date.now() + SKEW_MS });
      dataSource = behind.app.get<DataSource>(getDataSourceToken());
    });

    afterAll(async () => {
      await behind?.close();
      await ahead?.close();
    });

    /** Sets the key's expiry to the database's now plus `offsetMs`, by the database's own clock. */
    async function expireAt(key: CreatedApiKey, offsetMs: number): Promise<void> {
      const placeholder = name === 'postgres' ? '$1' : '?';
      await dataSource.query(
        `UPDATE keybridge_api_keys SET expires_at = ${DATABASE_NOW_MS[name]} + ${offsetMs} WHERE id = ${placeholder}`,
        [key.id],
      );
    }

    const withKey = (app: RunningApp, key: CreatedApiKey) =>
      request(app.url).get('/orders').set('X-API-Key', key.key);

    it('refuses, on a clock 90 s behind, a key that expired 30 s ago by the database', async () => {
      const key = await behind.keys.create({ name: 'past', scopes: ['orders:read'] });
      await expireAt(key, -MARGIN_MS);
      const refused = await withKey(behind, key).expect(401);
      expect(refused.body).toMatchObject({ code: 'invalid_api_key' });
      expect(behind.events.filter((e) => e.type === 'auth.failed').at(-1)).toMatchObject({
        reason: 'expired',
        keyId: key.id,
      });
      expect((await clientCredentials(behind.url, key.id, key.key)).status).toBe(401);
    });

    it('accepts, on a clock 90 s ahead, a key the database says has 30 s left, and its tokens', async () => {
      const key = await ahead.keys.create({ name: 'future', scopes: ['orders:read'] });
      await expireAt(key, MARGIN_MS);
      await withKey(ahead, key).expect(200);
      const token = await mintToken(ahead.url, key);
      await request(ahead.url).get('/orders').set('Authorization', `Bearer ${token}`).expect(200);
    });

    it('gives both instances the same answer for the same key', async () => {
      const past = await ahead.keys.create({ name: 'past for both', scopes: ['orders:read'] });
      const future = await ahead.keys.create({ name: 'future for both', scopes: ['orders:read'] });
      await expireAt(past, -MARGIN_MS);
      await expireAt(future, MARGIN_MS);
      for (const app of [behind, ahead]) {
        await withKey(app, past).expect(401);
        await withKey(app, future).expect(200);
      }
    });
  },
);
