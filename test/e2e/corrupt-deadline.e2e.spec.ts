import { getDataSourceToken } from '@nestjs/typeorm';
import type { CreatedApiKey } from 'nestjs-keybridge';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { databaseTargets } from './support/databases.js';
import { clientCredentials, expectInvalidToken, expectOAuthError, mintToken } from './support/oauth.js';
import { startApp, type RunningApp } from './support/app-starter.js';

/** The extremes of a `bigint` column: neither is an instant a JavaScript Date can hold. */
const MOST_NEGATIVE = '-9223372036854775808';
const MOST_POSITIVE = '9223372036854775807';

/**
 * A deadline column holding a value that is no date (written by hand or by a faulty tool) must not make the
 * key live forever: the key, and the tokens minted from it before, are refused as expired.
 */
describe.each(databaseTargets().map((t) => [t.name, t] as const))(
  'a key whose deadline is no date (%s)',
  (name, target) => {
    let running: RunningApp;
    let dataSource: DataSource;

    beforeAll(async () => {
      running = await startApp('express', await target.fresh());
      dataSource = running.app.get<DataSource>(getDataSourceToken());
    });

    afterAll(() => running.close());

    const placeholder = name === 'postgres' ? '$1' : '?';
    const lastFailure = () => running.events.filter((e) => e.type === 'auth.failed').at(-1);

    /** Writes `value` into `column` behind the library's back, then lets the key cache expire. */
    async function corrupt(key: CreatedApiKey, column: string, value: string): Promise<void> {
      await dataSource.query(`UPDATE keybridge_api_keys SET ${column} = ${value} WHERE id = ${placeholder}`, [
        key.id,
      ]);
      running.clock.now += 10_000; // past the key cache ttl (5 s)
    }

    it.each([
      ['expires_at', MOST_NEGATIVE],
      ['expires_at', MOST_POSITIVE],
      ['grace_ends_at', MOST_NEGATIVE],
    ])('refuses the key and its tokens when %s = %s', async (column, value) => {
      const key = await running.keys.create({ name: `corrupt ${column}`, scopes: ['orders:read'] });
      const token = await mintToken(running.url, key);
      await request(running.url).get('/orders').set('X-API-Key', key.key).expect(200);

      await corrupt(key, column, value);

      const refused = await request(running.url).get('/orders').set('X-API-Key', key.key).expect(401);
      expect(refused.body).toMatchObject({ code: 'invalid_api_key' });
      expect(lastFailure()).toMatchObject({ reason: 'expired', keyId: key.id });
      expectInvalidToken(await request(running.url).get('/orders').set('Authorization', `Bearer ${token}`));
      expect(lastFailure()).toMatchObject({ reason: 'token_key_expired', keyId: key.id });
      expectOAuthError(await clientCredentials(running.url, key.id, key.key), 401, 'invalid_client', [
        key.key,
      ]);

      // The admin view says expired, and listing the keys still works.
      expect((await running.keys.get(key.id)).status).toBe('expired');
      const listed = await running.keys.list({ limit: 100 });
      expect(listed.find((view) => view.id === key.id)?.status).toBe('expired');
    });
  },
);
